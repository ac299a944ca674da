"""Per-ticker ETL: extract -> validate -> load -> forecast, checkpointed so that a retry resumes.

The stages are also usable one by one (the Airflow DAG runs extract, the data-quality check and load as
separate tasks): extract writes the raw frame to ``<staging_dir>/<run_id>/<ticker>.csv`` plus a ``.json``
sidecar (source, sha256) and returns its path; validate reads and checks it; load re-checks it and upserts it
into ``ohlcv`` in one transaction. Each returns a small dict, never a frame. A frame failing a quality rule is
never written: its ``etl_runs`` row becomes ``rejected`` with the message and the error propagates.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation import paths
from foundation.atomic_io import write_atomic
from foundation.metrics import get_client
from foundation.pipeline_logger import get_logger, utc_now_iso
from foundation.redaction import bounded
from portfolio.checkpoint_manager import CheckpointManager, safe_name
from portfolio.data_sources.cache import frame_to_csv_bytes, read_ohlcv_csv
from portfolio.database_manager import DatabaseManager
from portfolio.params import ParameterError
from portfolio.quality import DataQualityError, validate_ohlcv
from portfolio.settings import check_ticker, load_settings

if TYPE_CHECKING:
    import pandas as pd

    from portfolio.data_sources.manager import DataSourceManager
    from portfolio.params import RunParams

STAGES: tuple[str, ...] = ("extract", "validate", "load", "forecast")
FORECAST_UNAVAILABLE = "forecasting unavailable"


class StagingError(RuntimeError):
    """A staged extract is missing or does not match its sidecar; names the ticker and the file."""


class EtlError(RuntimeError):
    """Some tickers of a run failed; ``summary`` holds the per-ticker results and errors."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


def _ticker(ticker: str) -> str:
    try:
        return check_ticker(ticker)
    except ValueError as exc:
        raise ParameterError(f"ticker: {exc}") from None


def staging_path(run_id: str, ticker: str) -> Path:
    """Where extract stages the raw frame of ``ticker`` for ``run_id``."""
    root = paths.resolve(load_settings().data_sources.staging_dir)
    return root / safe_name(run_id) / f"{safe_name(_ticker(ticker))}.csv"


def default_pipeline_id(run_id: str, ticker: str) -> str:
    """Checkpoint id of a standalone (non-Airflow) run of one ticker."""
    return f"etl__{run_id}__{ticker}"


def record_run(db: DatabaseManager, run_id: str, ticker: str, status: str, *, source: str | None = None,
               rows_loaded: int | None = None, message: str | None = None) -> None:
    """Upsert the ``etl_runs`` row of (run_id, ticker); ``running`` clears the end time and message."""
    now = utc_now_iso()
    finished = None if status == "running" else now
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO etl_runs (run_id, ticker, started_at, finished_at, status, source, rows_loaded, "
            "message) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, ticker) DO UPDATE SET "
            "finished_at = excluded.finished_at, status = excluded.status, "
            "source = COALESCE(excluded.source, etl_runs.source), "
            "rows_loaded = CASE WHEN ? IS NULL THEN etl_runs.rows_loaded ELSE excluded.rows_loaded END, "
            "message = excluded.message",
            (run_id, ticker, now, finished, status, source, rows_loaded or 0,
             bounded(message, 2000) if message else None, rows_loaded))


def extract_ticker(ticker: str, params: RunParams, run_id: str, *, manager: DataSourceManager | None = None,
                   db: DatabaseManager | None = None) -> dict[str, Any]:
    """Fetch ``ticker`` (cache first, failover) and stage the raw frame; return its path and counts."""
    from portfolio.data_sources.base import SourceError
    from portfolio.data_sources.manager import DataSourceManager

    ticker = _ticker(ticker)
    db = db or DatabaseManager()
    record_run(db, run_id, ticker, "running")
    try:
        result = (manager or DataSourceManager(params.mode)).fetch(ticker, params.start, params.end)
    except SourceError as exc:
        record_run(db, run_id, ticker, "failed", message=f"extract: {exc}")
        raise
    path = staging_path(run_id, ticker)
    data = frame_to_csv_bytes(result.frame)
    write_atomic(path, data)
    info = {**result.summary(), "run_id": run_id, "path": str(path),
            "sha256": hashlib.sha256(data).hexdigest(), "start": params.start.isoformat(),
            "end": params.end.isoformat(), "extracted_at": utc_now_iso()}
    write_atomic(path.with_suffix(".json"), json.dumps(info, sort_keys=True, default=str).encode())
    record_run(db, run_id, ticker, "running", source=result.source)
    return {"ticker": ticker, "path": str(path), "rows": info["rows"], "source": result.source,
            "origin": result.origin, "from_cache": result.from_cache, "fallback": result.fallback,
            "failovers": len(info["failovers"])}


def read_staged(ticker: str, run_id: str,
                path: str | Path | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The staged frame and sidecar of ``ticker``, after checking the data against the sidecar's sha256."""
    csv_path = Path(path) if path else staging_path(run_id, ticker)
    try:
        meta: dict[str, Any] = json.loads(csv_path.with_suffix(".json").read_text(encoding="utf-8"))
        data = csv_path.read_bytes()
    except (FileNotFoundError, ValueError) as exc:
        raise StagingError(f"{ticker}: staged extract {csv_path} unreadable ({type(exc).__name__}); "
                           "re-run extract") from None
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise StagingError(f"{ticker}: staged extract {csv_path} does not match its sha256; re-run extract")
    return read_ohlcv_csv(csv_path), meta


def _checked(ticker: str, run_id: str, frame: pd.DataFrame, db: DatabaseManager, stage: str) -> pd.DataFrame:
    try:
        return validate_ohlcv(frame, ticker)
    except DataQualityError as exc:
        record_run(db, run_id, ticker, "rejected", message=str(exc))
        get_logger("etl").error("data_quality_rejected", ticker=ticker, run_id=run_id, stage=stage,
                                rule=exc.rule, rows=exc.rows, failures=list(exc.failures), error=str(exc))
        raise


def validate_ticker(ticker: str, run_id: str, *, path: str | Path | None = None,
                    db: DatabaseManager | None = None) -> dict[str, Any]:
    """Check the staged frame of ``ticker``; raise :class:`DataQualityError` (run marked rejected) if bad."""
    ticker = _ticker(ticker)
    db = db or DatabaseManager()
    frame, meta = read_staged(ticker, run_id, path)
    checked = _checked(ticker, run_id, frame, db, "validate")
    return {"ticker": ticker, "path": str(path or staging_path(run_id, ticker)), "rows": len(checked),
            "source": meta.get("source"), "first_date": str(checked["date"].iloc[0].date()),
            "last_date": str(checked["date"].iloc[-1].date())}


def load_ticker(ticker: str, run_id: str, *, path: str | Path | None = None,
                db: DatabaseManager | None = None) -> dict[str, Any]:
    """Re-check and upsert the staged frame into ``ohlcv`` in one transaction; return the row count."""
    ticker = _ticker(ticker)
    db = db or DatabaseManager()
    frame, meta = read_staged(ticker, run_id, path)
    checked = _checked(ticker, run_id, frame, db, "load")
    source, now = str(meta.get("source") or "unknown"), utc_now_iso()
    rows = [(ticker, d.strftime("%Y-%m-%d"), o, h, lo, c, v, source, now)
            for d, o, h, lo, c, v in checked[["date", "open", "high", "low", "close", "volume"]].itertuples(
                index=False, name=None)]
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO ohlcv (ticker, date, open, high, low, close, volume, source, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ticker, date) DO UPDATE SET "
            "open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, "
            "volume = excluded.volume, "
            "source = excluded.source, ingested_at = excluded.ingested_at", rows)
    record_run(db, run_id, ticker, "success", source=source, rows_loaded=len(rows))
    statsd = get_client()
    statsd.incr("etl.rows_ingested", len(rows), tags={"ticker": ticker})
    statsd.gauge("etl.last_success", int(time.time()))
    get_logger("etl").log_event("etl_loaded", ticker=ticker, run_id=run_id, rows_loaded=len(rows),
                                source=source)
    return {"ticker": ticker, "rows_loaded": len(rows), "source": source}


def forecast_stage(ticker: str, run_id: str, *, db: DatabaseManager | None = None) -> dict[str, Any]:
    """Forecast from the loaded history of ``ticker`` (skipped when too short or unavailable)."""
    settings = load_settings()
    db = db or DatabaseManager()
    try:
        from portfolio.forecasting import forecast_ticker
    except ImportError as exc:  # the forecasting package is not there yet
        if (exc.name or "").startswith("portfolio.forecasting") or "forecast_ticker" in str(exc):
            return {"skipped": FORECAST_UNAVAILABLE}
        raise
    conn = db.connect()
    try:
        history = conn.execute("SELECT COUNT(*) FROM ohlcv WHERE ticker = ?", (ticker,)).fetchone()[0]
    finally:
        conn.close()
    if history < settings.forecasting.min_history:
        return {"skipped": f"{history} rows of history; forecasting.min_history is "
                           f"{settings.forecasting.min_history}"}
    return dict(forecast_ticker(db, ticker, run_id, settings))


def run_ticker_etl(ticker: str, params: RunParams, run_id: str, *, pipeline_id: str | None = None,
                   db: DatabaseManager | None = None, manager: DataSourceManager | None = None,
                   forecast: bool = True, fresh: bool = False) -> dict[str, Any]:
    """All stages for one ticker, resuming after the last checkpointed stage of ``pipeline_id``."""
    ticker = _ticker(ticker)
    db = db or DatabaseManager()
    pipeline_id = pipeline_id or default_pipeline_id(run_id, ticker)
    checkpoints, log = CheckpointManager(), get_logger("etl")
    if fresh:
        checkpoints.clear(pipeline_id)
    began = time.monotonic()
    log.pipeline("etl_ticker_start", ticker=ticker, run_id=run_id, pipeline_id=pipeline_id)
    states: dict[str, dict[str, Any]] = {}
    ran: list[str] = []
    resumed: list[str] = []
    for stage in STAGES:
        saved = None if ran else checkpoints.load(pipeline_id, stage)
        if saved is not None and stage == "extract" and not Path(saved.get("path", "")).exists():
            saved = None  # the staged file is gone: extract again
        if saved is not None:
            states[stage] = saved
            resumed.append(stage)
            log.pipeline("etl_stage_resumed", ticker=ticker, run_id=run_id, pipeline_id=pipeline_id,
                         stage=stage)
            continue
        stage_began = time.monotonic()
        try:
            states[stage] = _run_stage(stage, ticker, params, run_id, db, manager, forecast, states)
        except Exception as exc:
            rejected = isinstance(exc, DataQualityError)
            if not rejected:  # a rejection is already recorded as such
                record_run(db, run_id, ticker, "failed", message=f"{stage}: {type(exc).__name__}: {exc}")
            log.error("etl_ticker_failed", ticker=ticker, run_id=run_id, pipeline_id=pipeline_id, stage=stage,
                      error_type=type(exc).__name__, error=bounded(str(exc)))
            _outcome(ticker, "rejected" if rejected else "failed")
            raise
        checkpoints.save(pipeline_id, stage, states[stage])
        ran.append(stage)
        log.pipeline("etl_stage_complete", ticker=ticker, run_id=run_id, pipeline_id=pipeline_id, stage=stage,
                     seconds=round(time.monotonic() - stage_began, 3))
    if ran and "load" not in ran:  # a retry that only finished the forecast: the run is whole again
        record_run(db, run_id, ticker, "success", source=states["load"].get("source"),
                   rows_loaded=states["load"].get("rows_loaded"))
    summary = _summary(ticker, pipeline_id, states, ran, resumed, time.monotonic() - began)
    log.pipeline("etl_ticker_finish", **summary, run_id=run_id)
    _outcome(ticker, "success")
    return summary


def _outcome(ticker: str, outcome: str) -> None:
    """One ``etl.ticker_outcome`` count per ticker and attempt: the per-ticker series, whatever task ran it."""
    get_client().incr("etl.ticker_outcome", tags={"ticker": ticker, "outcome": outcome})


def _run_stage(stage: str, ticker: str, params: RunParams, run_id: str, db: DatabaseManager,
               manager: DataSourceManager | None, forecast: bool,
               states: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if stage == "extract":
        return extract_ticker(ticker, params, run_id, manager=manager, db=db)
    path = states["extract"]["path"]
    if stage == "validate":
        return validate_ticker(ticker, run_id, path=path, db=db)
    if stage == "load":
        return load_ticker(ticker, run_id, path=path, db=db)
    return forecast_stage(ticker, run_id, db=db) if forecast else {"skipped": "disabled for this run"}


def _summary(ticker: str, pipeline_id: str, states: dict[str, dict[str, Any]], ran: list[str],
             resumed: list[str], seconds: float) -> dict[str, Any]:
    fc = states.get("forecast", {})
    models = fc.get("models") if isinstance(fc.get("models"), list) else []
    return {"ticker": ticker, "pipeline_id": pipeline_id, "source": states["extract"].get("source"),
            "origin": states["extract"].get("origin"), "fallback": states["extract"].get("fallback"),
            "rows": states["extract"].get("rows"), "rows_loaded": states["load"].get("rows_loaded"),
            "forecast_models": models, "forecast": fc.get("skipped") or "done", "stages_run": ran,
            "stages_resumed": resumed, "seconds": round(seconds, 3)}


def run_etl(params: RunParams, run_id: str, *, db: DatabaseManager | None = None, forecast: bool = True,
            max_workers: int | None = None, pipeline_prefix: str | None = None,
            manager: DataSourceManager | None = None, parallel: bool | None = None) -> dict[str, Any]:
    """:func:`run_ticker_etl` for each ticker (threaded if ``parallel``, default ``enable_parallel_tickers``);
    raise :class:`EtlError` when any ticker failed (its ``summary`` has ``failed`` and ``failures``)."""
    from portfolio.data_sources.manager import DataSourceManager

    db = db or DatabaseManager()
    manager = manager or DataSourceManager(params.mode)
    began = time.monotonic()

    def one(ticker: str) -> dict[str, Any]:
        pid = f"{pipeline_prefix}__{ticker}" if pipeline_prefix else None
        return run_ticker_etl(ticker, params, run_id, pipeline_id=pid, db=db, manager=manager,
                              forecast=forecast)

    results: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    failures: dict[str, dict[str, Any]] = {}
    workers = max_workers or min(4, len(params.tickers))
    threaded = params.enable_parallel_tickers if parallel is None else parallel
    if threaded and workers > 1 and len(params.tickers) > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="etl") as pool:
            futures = {t: pool.submit(one, t) for t in params.tickers}
        outcomes = {t: f.exception() or f.result() for t, f in futures.items()}
    else:
        outcomes = {}
        for t in params.tickers:
            try:
                outcomes[t] = one(t)
            except Exception as exc:  # one bad ticker must not stop the others
                outcomes[t] = exc
    for ticker, outcome in outcomes.items():
        if isinstance(outcome, BaseException):
            errors[ticker] = f"{type(outcome).__name__}: {bounded(str(outcome), 500)}"
            failures[ticker] = {"error_type": type(outcome).__name__, "error": bounded(str(outcome), 300),
                                "rejected": isinstance(outcome, DataQualityError)}
            if isinstance(outcome, DataQualityError):
                failures[ticker]["rules"] = list(outcome.failures)
        else:
            results[ticker] = outcome
    summary = {"run_id": run_id, "mode": params.mode, "start": params.start.isoformat(),
               "end": params.end.isoformat(), "tickers": len(params.tickers), "succeeded": len(results),
               "failed": errors, "failures": failures,
               "rows_loaded": sum(int(r.get("rows_loaded") or 0) for r in results.values()),
               "sources": {t: r["source"] for t, r in results.items()}, "results": results,
               "seconds": round(time.monotonic() - began, 3)}
    if errors:
        first = next(iter(errors.items()))
        raise EtlError(f"ETL failed for {len(errors)} of {len(params.tickers)} ticker(s); "
                       f"first: {first[0]}: {first[1]}", summary)
    return summary
