from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from foundation.pipeline_logger import read_events
from portfolio import etl
from portfolio.calendar import sessions_between
from portfolio.checkpoint_manager import CheckpointManager
from portfolio.data_sources.base import AllSourcesFailedError, SourceError
from portfolio.data_sources.manager import DataSourceManager
from portfolio.database_manager import DatabaseManager
from portfolio.params import ParameterError, RunParams, resolve
from portfolio.quality import DataQualityError
from portfolio.synthetic import generate_ticker

START, END = date(2024, 1, 2), date(2024, 3, 28)
Breaker = Callable[[pd.DataFrame], pd.DataFrame]


class FrameSource:
    """A counting fake source: synthetic bars, optionally broken for some tickers."""

    name = "fake"

    def __init__(self, breakers: dict[str, Breaker] | None = None) -> None:
        self.breakers = breakers or {}
        self.calls: list[str] = []

    def available(self) -> tuple[bool, str]:
        return True, ""

    def fetch(self, ticker: str, start: date, end: date) -> pd.DataFrame:
        self.calls.append(ticker)
        frame = generate_ticker(ticker, start, end).drop(columns="regime")
        return self.breakers.get(ticker, lambda df: df)(frame)


def params(tickers: str = "AAPL", parallel: bool = False, mode: str = "synthetic") -> RunParams:
    return resolve(tickers=tickers, start=START, end=END, mode=mode, enable_parallel_tickers=parallel)


def fake_manager(source: FrameSource) -> DataSourceManager:
    return DataSourceManager("live", sources=[source], use_cache=False)


def ohlcv(db: DatabaseManager) -> list[tuple[Any, ...]]:
    conn = db.connect()
    try:
        return [tuple(r) for r in conn.execute(
            "SELECT ticker, date, open, high, low, close, volume, source FROM ohlcv ORDER BY ticker, date")]
    finally:
        conn.close()


def etl_run(db: DatabaseManager, run_id: str, ticker: str) -> dict[str, Any]:
    conn = db.connect()
    try:
        row = conn.execute("SELECT * FROM etl_runs WHERE run_id = ? AND ticker = ?",
                           (run_id, ticker)).fetchone()
    finally:
        conn.close()
    return dict(row) if row else {}


def break_cell(row: int, column: str, value: float) -> Breaker:
    def apply(df: pd.DataFrame) -> pd.DataFrame:
        out = df.copy()
        out.loc[row, column] = value
        return out
    return apply


def break_high(df: pd.DataFrame) -> pd.DataFrame:
    return break_cell(5, "high", float(df.loc[5, "open"]) - 0.5)(df)


def break_low(df: pd.DataFrame) -> pd.DataFrame:
    return break_cell(6, "low", float(df.loc[6, "close"]) + 0.5)(df)


def break_dates(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.loc[8, "date"] = out.loc[7, "date"]
    return out


def break_weekend(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    assert out.loc[9, "date"] == pd.Timestamp("2024-01-16")
    out.loc[9, "date"] = pd.Timestamp("2024-01-13")  # a Saturday
    return out


BROKEN = [
    pytest.param(break_cell(3, "close", float("nan")), "not_null", id="not_null"),
    pytest.param(break_cell(3, "open", -2.0), "positive_prices", id="positive_prices"),
    pytest.param(break_high, "high_ge_open_close", id="high_ge_open_close"),
    pytest.param(break_low, "low_le_open_close", id="low_le_open_close"),
    pytest.param(break_cell(4, "volume", -1.0), "volume_non_negative", id="volume_non_negative"),
    pytest.param(break_dates, "dates_monotonic_unique", id="dates_monotonic_unique"),
    pytest.param(break_weekend, "non_session_dates", id="non_session_dates"),
    pytest.param(lambda df: df.drop(index=[20, 21]).reset_index(drop=True), "calendar_gaps",
                 id="calendar_gaps"),
]


def test_synthetic_run_loads_every_session(pmx_home: Path, udp_metrics: socket.socket) -> None:
    db = DatabaseManager()
    summary = etl.run_ticker_etl("AAPL", params(), "run-1", db=db)
    sessions = len(sessions_between(START, END))
    assert summary["rows"] == summary["rows_loaded"] == sessions
    assert summary["source"] == "synthetic" and summary["stages_run"] == list(etl.STAGES)
    assert summary["stages_resumed"] == [] and summary["forecast"].startswith(f"{sessions} rows of history")
    rows = ohlcv(db)
    assert len(rows) == sessions and {r[7] for r in rows} == {"synthetic"}
    run = etl_run(db, "run-1", "AAPL")
    assert (run["status"], run["rows_loaded"], run["source"]) == ("success", sessions, "synthetic")
    lines = {udp_metrics.recv(4096).decode().split(":")[0] for _ in range(2)}
    assert lines == {"pmx.etl.rows_ingested,ticker=AAPL", "pmx.etl.last_success"}
    events = [e["event"] for e in read_events(pmx_home / "logs" / "pipeline", "pipeline")]
    assert events.count("etl_stage_complete") == 4 and events[-1] == "etl_ticker_finish"


def test_upsert_is_idempotent(pmx_home: Path) -> None:
    db = DatabaseManager()
    etl.run_ticker_etl("AAPL", params(), "run-1", db=db)
    first = ohlcv(db)
    etl.run_ticker_etl("AAPL", params(), "run-2", db=db)
    assert ohlcv(db) == first


def test_retry_resumes_after_the_last_completed_stage(pmx_home: Path) -> None:
    db = DatabaseManager()
    source = FrameSource()
    conn = db.connect()
    conn.execute("CREATE TRIGGER fail_load BEFORE INSERT ON ohlcv "
                 "BEGIN SELECT RAISE(ABORT, 'disk is busy'); END")
    conn.close()
    with pytest.raises(sqlite3.IntegrityError, match="disk is busy"):
        etl.run_ticker_etl("AAPL", params(), "run-1", pipeline_id="daily_etl__run-1__AAPL", db=db,
                           manager=fake_manager(source))
    assert source.calls == ["AAPL"] and ohlcv(db) == []
    failed = etl_run(db, "run-1", "AAPL")
    assert failed["status"] == "failed" and "load: IntegrityError: disk is busy" in failed["message"]
    assert CheckpointManager().completed_stages("daily_etl__run-1__AAPL") == ["extract", "validate"]

    conn = db.connect()
    conn.execute("DROP TRIGGER fail_load")
    conn.close()
    summary = etl.run_ticker_etl("AAPL", params(), "run-1", pipeline_id="daily_etl__run-1__AAPL", db=db,
                                 manager=fake_manager(source))
    assert source.calls == ["AAPL"], "extract is not re-run on retry"
    assert summary["stages_resumed"] == ["extract", "validate"]
    assert summary["stages_run"] == ["load", "forecast"]
    assert summary["rows_loaded"] == len(ohlcv(db)) > 0 and summary["source"] == "fake"
    assert etl_run(db, "run-1", "AAPL")["status"] == "success"


def test_missing_staged_file_means_extract_runs_again(pmx_home: Path) -> None:
    source = FrameSource()
    etl.run_ticker_etl("AAPL", params(), "run-1", manager=fake_manager(source), forecast=False)
    etl.staging_path("run-1", "AAPL").unlink()
    CheckpointManager().clear("etl__run-1__AAPL")
    etl.run_ticker_etl("AAPL", params(), "run-1", manager=fake_manager(source), forecast=False)
    assert source.calls == ["AAPL", "AAPL"]


@pytest.mark.parametrize(("breaker", "rule"), BROKEN)
def test_rejected_frame_writes_nothing(pmx_home: Path, breaker: Breaker, rule: str) -> None:
    db = DatabaseManager()
    etl.run_ticker_etl("AAPL", params(), "good-run", db=db, forecast=False)
    before = ohlcv(db)
    source = FrameSource({"AAPL": breaker})
    with pytest.raises(DataQualityError) as info:
        etl.run_ticker_etl("AAPL", params(), "bad-run", db=db, manager=fake_manager(source))
    assert (info.value.ticker, info.value.rule) == ("AAPL", rule)
    assert ohlcv(db) == before, "the database is unchanged"
    run = etl_run(db, "bad-run", "AAPL")
    assert run["status"] == "rejected" and repr(rule) in run["message"] and run["rows_loaded"] == 0
    assert "AAPL" in run["message"]
    rejected = [e for e in read_events(pmx_home / "logs" / "pipeline")
                if e["event"] == "data_quality_rejected"]
    assert rejected[-1]["rule"] == rule and rejected[-1]["level"] == "error"


def test_stages_compose_and_return_small_dicts(pmx_home: Path) -> None:
    db = DatabaseManager()
    extracted = etl.extract_ticker("MSFT", params("MSFT"), "manual__2024", db=db)
    path = Path(extracted["path"])
    assert path == pmx_home / "data" / "staging" / "manual__2024" / "MSFT.csv" and path.exists()
    assert etl_run(db, "manual__2024", "MSFT")["status"] == "running"
    validated = etl.validate_ticker("MSFT", "manual__2024", path=path, db=db)
    loaded = etl.load_ticker("MSFT", "manual__2024", db=db)
    for result in (extracted, validated, loaded):
        assert len(json.dumps(result)) < 1000, "no frames travel between tasks"
    assert validated["rows"] == extracted["rows"] == loaded["rows_loaded"]
    assert (validated["first_date"], validated["last_date"]) == ("2024-01-02", "2024-03-28")


def test_tampered_staging_file_is_refused_at_load(pmx_home: Path) -> None:
    db = DatabaseManager()
    extracted = etl.extract_ticker("MSFT", params("MSFT"), "r", db=db)
    path = Path(extracted["path"])
    path.write_text(path.read_text().replace(",", ";", 3))
    with pytest.raises(etl.StagingError, match=r"MSFT: staged extract .* does not match its sha256"):
        etl.load_ticker("MSFT", "r", db=db)
    assert ohlcv(db) == []


def test_staged_frame_missing_a_column_is_rejected(pmx_home: Path) -> None:
    db = DatabaseManager()
    extracted = etl.extract_ticker("MSFT", params("MSFT"), "r", db=db)
    path = Path(extracted["path"])
    frame = pd.read_csv(path).drop(columns=["low"])
    data = frame.to_csv(index=False).encode()
    path.write_bytes(data)
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["sha256"] = hashlib.sha256(data).hexdigest()
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(DataQualityError, match=r"'required_columns' failed \(missing column\(s\) low\)"):
        etl.load_ticker("MSFT", "r", db=db)
    assert ohlcv(db) == [] and etl_run(db, "r", "MSFT")["status"] == "rejected"


def test_validate_marks_the_run_rejected(pmx_home: Path) -> None:
    db = DatabaseManager()
    source = FrameSource({"MSFT": break_high})
    etl.extract_ticker("MSFT", params("MSFT"), "r", manager=fake_manager(source), db=db)
    with pytest.raises(DataQualityError, match="high_ge_open_close"):
        etl.validate_ticker("MSFT", "r", db=db)
    assert etl_run(db, "r", "MSFT")["status"] == "rejected"


def test_source_failure_marks_the_run_failed(pmx_home: Path) -> None:
    db = DatabaseManager()
    manager = DataSourceManager("live", order=["alpha_vantage"], use_cache=False)
    with pytest.raises(AllSourcesFailedError, match="ALPHA_VANTAGE_API_KEY is not set"):
        etl.run_ticker_etl("AAPL", params(mode="live"), "r", db=db, manager=manager)
    run = etl_run(db, "r", "AAPL")
    assert run["status"] == "failed" and "extract: " in run["message"]
    assert isinstance(AllSourcesFailedError("A", "live", {}), SourceError)


def test_bad_ticker_is_a_parameter_error(pmx_home: Path) -> None:
    with pytest.raises(ParameterError, match="invalid ticker 'aapl!'"):
        etl.extract_ticker("aapl!", params(), "r")


@pytest.mark.parametrize("parallel", [False, True], ids=["sequential", "thread-pool"])
def test_one_bad_ticker_does_not_stop_the_others(pmx_home: Path, parallel: bool) -> None:
    db = DatabaseManager()
    source = FrameSource({"BAD": break_low})
    with pytest.raises(etl.EtlError) as info:
        etl.run_etl(params("AAPL,BAD,MSFT", parallel=parallel), "r", db=db, manager=fake_manager(source),
                    forecast=False)
    summary = info.value.summary
    assert list(summary["failed"]) == ["BAD"] and "low_le_open_close" in summary["failed"]["BAD"]
    assert summary["succeeded"] == 2 and sorted(source.calls) == ["AAPL", "BAD", "MSFT"]
    assert "ETL failed for 1 of 3 ticker(s); first: BAD" in str(info.value)
    assert {r[0] for r in ohlcv(db)} == {"AAPL", "MSFT"}


def test_forecast_stage_skips_when_forecasting_is_missing(pmx_home: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "portfolio.forecasting", None)  # makes the import fail
    summary = etl.run_ticker_etl("AAPL", params(), "r")
    assert summary["forecast"] == etl.FORECAST_UNAVAILABLE and summary["forecast_models"] == []


def test_forecast_stage_runs_the_models_on_enough_history(pmx_home: Path) -> None:
    db = DatabaseManager()
    longer = resolve(tickers="AAPL", start=date(2023, 6, 1), end=END, mode="synthetic")
    summary = etl.run_ticker_etl("AAPL", longer, "r", db=db)
    assert summary["forecast"] == "done" and summary["forecast_models"]
    conn = db.connect()
    try:
        count = conn.execute("SELECT COUNT(*) FROM forecasts WHERE run_id = 'r' AND ticker = 'AAPL'"
                             ).fetchone()[0]
    finally:
        conn.close()
    assert count > 0


def test_forecast_failure_is_retried_alone_and_ends_successful(pmx_home: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import portfolio.forecasting

    real = portfolio.forecasting.forecast_ticker
    calls: list[str] = []

    def fails_once(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append("call")
        if len(calls) == 1:
            raise RuntimeError("model server went away")
        return real(*args, **kwargs)

    db = DatabaseManager()
    longer = resolve(tickers="AAPL", start=date(2023, 6, 1), end=END, mode="synthetic")
    monkeypatch.setattr(portfolio.forecasting, "forecast_ticker", fails_once)
    with pytest.raises(RuntimeError, match="model server went away"):
        etl.run_ticker_etl("AAPL", longer, "r", db=db)
    failed = etl_run(db, "r", "AAPL")
    assert failed["status"] == "failed" and "forecast: RuntimeError" in failed["message"]
    summary = etl.run_ticker_etl("AAPL", longer, "r", db=db)
    assert summary["stages_resumed"] == ["extract", "validate", "load"]
    assert summary["stages_run"] == ["forecast"] and len(calls) == 2
    run = etl_run(db, "r", "AAPL")
    assert run["status"] == "success" and run["rows_loaded"] == summary["rows_loaded"] > 0


def test_a_rejected_ticker_of_a_run_names_the_broken_rules(pmx_home: Path) -> None:
    """``run_etl`` reports the rules a rejected ticker broke (lineage turns them into quality assertions)."""
    source = FrameSource({"MSFT": break_high})
    with pytest.raises(etl.EtlError) as info:
        etl.run_etl(params("AAPL,MSFT"), "mixed", manager=fake_manager(source), forecast=False)
    failures = info.value.summary["failures"]
    assert failures["MSFT"]["rejected"] is True and failures["MSFT"]["rules"] == ["high_ge_open_close"]
    assert info.value.summary["sources"] == {"AAPL": "fake"}
