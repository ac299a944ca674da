"""Bind the add-on's lineage table (:mod:`lineage.jobs`) to the pipeline's runs.

The add-on names datasets and builds facets but may not import the domain; this module supplies what only the
pipeline knows: the columns of each SQLite table (from :data:`portfolio.schema.MIGRATIONS`), the quality rules
(:data:`portfolio.quality.RULES`), and what one run observed, read from the summary its entrypoint returned
(row counts, the source of each ticker, the synthetic dataset id) or from the error it raised.

The operators (``orchestration/operators.py``) call :func:`for_operator` from their
``get_openlineage_facets_on_*`` methods; the TaskFlow tasks call :func:`emit_for_task`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from lineage.jobs import SYNTHETIC
from lineage.operator_lineage import Observed, operator_lineage

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

Columns = tuple[tuple[str, str], ...]


@lru_cache(maxsize=1)
def table_schemas() -> dict[str, Columns]:
    """``table -> ((column, SQL type), ...)`` of the portfolio database, from its migrations (in memory)."""
    import sqlite3

    from portfolio.schema import MIGRATIONS

    conn = sqlite3.connect(":memory:")
    try:
        for script in MIGRATIONS:
            conn.executescript(script)
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {n: tuple((str(c[1]), str(c[2])) for c in conn.execute(f"PRAGMA table_info({n})")) for n in names}
    finally:
        conn.close()


def quality_results(broken: Iterable[str]) -> dict[str, bool]:
    """One pass/fail per quality rule, in the order the rules are reported."""
    from portfolio.quality import RULES

    failed = set(broken)
    return {rule: rule not in failed for rule in (*RULES, *sorted(failed - set(RULES)))}


def _quality_error(error: BaseException | None) -> BaseException | None:
    """The quality rejection behind ``error`` (itself or a cause), if any."""
    from portfolio.quality import DataQualityError

    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, DataQualityError):
            return error
        error, seen = error.__cause__ or error.__context__, seen + 1
    return None


def _etl_batch(result: Mapping[str, Any], observed: Observed) -> None:
    failed = result.get("failed") or {}
    observed.tickers = list(result.get("tickers") or observed.tickers)
    observed.providers = dict(result.get("sources") or {})
    observed.rows = {"db/ohlcv": int(result.get("rows_loaded") or 0), "db/etl_runs": len(observed.tickers)}
    rejected = [f for f in failed.values() if isinstance(f, dict) and f.get("rejected")]
    if result.get("succeeded") or rejected:  # some data reached the quality gate
        observed.quality = quality_results(r for f in rejected for r in f.get("rules") or [])


def _etl_ticker(result: Mapping[str, Any], observed: Observed) -> None:
    ticker = result.get("ticker")
    if ticker:
        observed.tickers = [str(ticker)]
        if result.get("source"):
            observed.providers = {str(ticker): str(result["source"])}
    if "load" in (result.get("stages_run") or []):
        observed.rows = {"db/ohlcv": int(result.get("rows_loaded") or 0), "db/etl_runs": 1}
    observed.quality = quality_results(())  # the data passed the gate (now or in the checkpointed try)


def _trader(result: Mapping[str, Any], observed: Observed) -> None:
    signals = result.get("signals") or {}
    observed.rows = {"db/signals": sum(int(v) for v in signals.values() if isinstance(v, int)),
                     "db/trades": int(result.get("traded") or 0)}


def _backfill(result: Mapping[str, Any], observed: Observed) -> None:
    observed.rows = {"db/signals": int(result.get("filled") or 0)}


def _synthetic(result: Mapping[str, Any], observed: Observed) -> None:
    observed.tickers = [str(t) for t in result.get("tickers") or []]
    if result.get("dataset_id"):
        observed.versions = {SYNTHETIC: str(result["dataset_id"])}


def _snapshot(result: Mapping[str, Any], observed: Observed) -> None:
    observed.rows = {"db/equity_snapshots": 1}


READERS: dict[str, Callable[[Mapping[str, Any], Observed], None]] = {
    "run_etl_pipeline.run_batch": _etl_batch,
    "run_etl_pipeline.run": _etl_batch,
    "run_etl_pipeline.run_stage": _etl_ticker,
    "run_auto_trader.run": _trader,
    "run_auto_trader.run_batch": _trader,
    "backfill_signal_validation.run": _backfill,
    "generate_synthetic_dataset.run": _synthetic,
    "tasks.trading_snapshot": _snapshot,
}


def observe(job: str, tickers: Sequence[str] = (), result: Any = None, error: BaseException | None = None,
            final: bool = False) -> Observed:
    """What one run of ``job`` did, from its returned summary (success) or its error (failure)."""
    observed = Observed(tickers=[t for t in tickers if isinstance(t, str)])
    if isinstance(result, Mapping) and job in READERS:
        READERS[job](result, observed)
    if error is not None:
        observed.error = f"{type(error).__name__}: {error}"
        observed.dead_lettered = final
        rejection = _quality_error(error)
        if rejection is not None:
            observed.quality = quality_results(getattr(rejection, "failures", None) or ())
    return observed


def _final_failure(error: BaseException | None, task_instance: Any) -> bool:
    """The try that failed was the last one (the dead-letter callback then writes its row)."""
    from airflow.sdk.exceptions import AirflowFailException

    if isinstance(error, AirflowFailException):
        return True
    try:
        return int(task_instance.try_number) > int(task_instance.max_tries)
    except (AttributeError, TypeError, ValueError):
        return False


def for_operator(job: str, tickers: Sequence[str], state: str, result: Any = None,
                 error: BaseException | None = None, task_instance: Any = None) -> OperatorLineage:
    """The ``OperatorLineage`` of an operator's ``start``, ``complete`` or ``failure`` event.

    Table schemas go on the COMPLETE event only (the datasets and their versions are on every event).
    """
    if state == "start":
        return operator_lineage(job, observe(job, tickers))
    if state == "complete":
        return operator_lineage(job, observe(job, tickers, result), table_schemas())
    final = _final_failure(error, task_instance)
    return operator_lineage(job, observe(job, tickers, error=error, final=final))


def for_operator_guarded(job: str, tickers: Sequence[str], state: str, result: Any = None,
                         error: BaseException | None = None, task_instance: Any = None) -> OperatorLineage | None:
    """:func:`for_operator`, a failure counted (``component=lineage``) and answered with ``None``."""
    try:
        return for_operator(job, tickers, state, result, error, task_instance)
    except Exception as exc:  # lineage never changes a task's outcome
        from foundation.failures import report_failure

        report_failure("lineage", "extract", exc, job=job, state=state)
        return None


def emit_for_task(job: str, result: Any = None) -> None:
    """A TaskFlow task's datasets, sent as the provider's RUNNING event of the task's run (public API
    ``emit_dataset_lineage``: same run id, parent and job as the task's START/COMPLETE).

    A no-op when OpenLineage is off; a failure is counted (``component=lineage``), never raised.
    """
    try:
        from airflow.providers.openlineage.conf import is_disabled

        if is_disabled():  # decided before importing the provider's API: 0.6 s of imports a task would pay
            return          # when lineage is off (on, the fork server has them loaded with the listener)
        from airflow.providers.openlineage import api

        if not api.is_openlineage_active():
            return
        lineage = operator_lineage(job, observe(job, result=result), table_schemas())
        if lineage.inputs or lineage.outputs:
            api.emit_dataset_lineage(inputs=list(lineage.inputs), outputs=list(lineage.outputs),
                                     raise_on_error=True)
    except Exception as exc:  # lineage never changes a task's outcome
        from foundation.failures import report_failure

        report_failure("lineage", "emit", exc, job=job)
