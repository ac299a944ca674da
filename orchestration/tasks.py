"""TaskFlow glue tasks shared by the DAG files: ticker lists, gates, branches, halts and summaries.

The heavy lifting happens in the operators (``orchestration/operators.py``) and the domain core; these tasks
only read run-time inputs, decide, and summarise. Each returns a small JSON-friendly value. A task that calls
the domain resolves the run's inputs once (:func:`orchestration.runtime.run_inputs`) and binds them for the
call (:func:`portfolio.run_scope.bound`); nothing goes through ``os.environ``.

A task that reads or writes data reports its datasets (``tasks.<function>`` rows of ``lineage.jobs``) with
:func:`_with_lineage`, once it has its result: one extra OpenLineage RUNNING event of the task's run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

from airflow.sdk import Variable, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

TRADING_HALT_VARIABLE = "portfolio.trading_halt"


def _conf() -> dict[str, Any]:
    return dict(get_current_context()["dag_run"].conf or {})


def _inputs() -> RunInputs:
    from orchestration.runtime import run_inputs

    return run_inputs(_conf())


@contextmanager
def _run_scope() -> Iterator[RunInputs]:
    """The run's inputs (data locations and secrets; bad run parameters do not fail the task), bound for the
    domain calls made inside the block."""
    from orchestration.runtime import run_inputs
    from portfolio.run_scope import bound

    inputs = run_inputs(_conf(), strict=False)
    with bound(inputs):
        yield inputs


def _with_lineage(job: str, result: Any) -> Any:
    """``result``, after sending the datasets of ``job`` (never raises: see ``emit_for_task``)."""
    from orchestration.lineage_binding import emit_for_task

    emit_for_task(job, result)
    return result


def run_trading_day(conf: dict[str, Any] | None = None) -> date:
    """The exchange's session date (America/New_York for XNYS) of this run's clock: "today" for trading.

    The clock is the wall clock, or the instant pinned by ``conf["market_clock_at"]`` (the same key that pins
    the market-hours sensor), never the server's local date (UTC in containers).
    """
    from orchestration.config import load_orchestration
    from orchestration.sensors import CLOCK_CONF_KEY, pinned_instant
    from portfolio.calendar import trading_day

    at = pinned_instant((conf or {}).get(CLOCK_CONF_KEY))
    return trading_day(at, load_orchestration().market_hours.calendar)


@task(task_id="plan")
def plan_etl_batches() -> list[list[str]]:
    """The run's tickers (``conf`` > Variable > ``CRON_TICKERS`` > config) cut into batches (``etl_batches`` of
    the orchestration config): one mapped ``batch`` task instance each."""
    return _ticker_batches("etl_batches")


def _ticker_batches(knob: str, *, core: bool = False) -> list[list[str]]:
    """The run's tickers (``core``: only ``tickers.core``) cut by the orchestration config's ``knob``."""
    from orchestration.config import load_orchestration
    from orchestration.runtime import run_inputs

    batching = getattr(load_orchestration(), knob)
    return batching.split(run_inputs(_conf(), core=core).params.tickers)


def tickers_to_retry(batches: list[list[str]], outcomes: Iterable[Any]) -> list[str]:
    """In plan order: the tickers a batch reported failed, and every ticker of a batch that left no result."""
    reported: set[str] = set()
    failed: set[str] = set()
    for result in outcomes:  # one per batch that returned; a failed batch task returned nothing
        if isinstance(result, dict):
            reported.update(result.get("tickers") or [])
            failed.update(result.get("failed") or {})
    planned = [ticker for batch in batches for ticker in batch]
    return [t for t in planned if t in failed or t not in reported]


@task(task_id="failed_tickers", trigger_rule="all_done_min_one_success")
def failed_tickers(batches: list[list[str]], outcomes: list[Any]) -> list[str]:
    """The tickers to retry (:func:`tickers_to_retry`: reported failed, or in a batch task that itself failed
    after its retries).

    Trigger rule ``all_done_min_one_success`` over the plan and the batches: it runs once every batch ended,
    failed ones included; it is skipped when the batches were (market closed, trade budget spent), and marked
    ``upstream_failed`` when the plan itself failed, so that the run fails once, on the plan.
    """
    out = tickers_to_retry(batches, outcomes)
    print(f"{len(out)} ticker(s) to retry: {', '.join(out) or 'none'}")
    return out


@task.short_circuit(task_id="trading_allowed")
def trading_allowed(core: bool = False) -> list[list[str]]:
    """The run's tickers (as :func:`plan_etl_batches`; ``core``: only ``tickers.core``) cut into trade batches
    (``trade_batches`` of the orchestration config), one mapped ``trade`` task instance each; nothing, so that
    the trading tasks skip, while today's (New York session date) trading is halted by a failed check."""
    raw = Variable.get(TRADING_HALT_VARIABLE, default=None)
    if raw:
        halt = json.loads(raw)
        if halt.get("date") == run_trading_day(_conf()).isoformat():
            print(f"trading halted for {halt['date']}: {halt.get('reason')}")
            return []
    return _ticker_batches("trade_batches", core=core)


@task.short_circuit(task_id="core_trade_budget")
def core_trade_budget() -> bool:
    """Skip core-mode trading when today's core trades reached ``broker.core_max_trades_per_day``."""
    from portfolio.trader import core_trade_budget as budget

    with _run_scope():
        used, limit = budget()
    print(f"core trades today: {used} of {limit}")
    _with_lineage("tasks.core_trade_budget", {"used": used, "limit": limit})
    return used < limit


@task(task_id="validate_environment")
def validate_environment() -> dict[str, Any]:
    """Run the environment checks; never raises for a failed check (the branch decides)."""
    from scripts import validate_environment as entry
    from scripts.entrypoint import run_logged

    load: Callable[[], RunInputs] = _inputs  # resolved inside the checks: a bad value fails one check
    return run_logged("validate_environment", entry.run, {"load_inputs": load})


@task.branch(task_id="environment_gate")
def environment_gate(result: dict[str, Any], ok_task: str, halt_task: str) -> str:
    """Continue to ``ok_task`` when every check passed, else to ``halt_task``."""
    return ok_task if result.get("ok") else halt_task


@task(task_id="environment_ok")
def environment_ok() -> None:
    """The environment passed: lift a trading halt recorded by an earlier failed check."""
    if Variable.get(TRADING_HALT_VARIABLE, default=None):
        Variable.delete(TRADING_HALT_VARIABLE)
        print("trading halt lifted")


@task(task_id="halt_trading")
def halt_trading(result: dict[str, Any]) -> None:
    """Record today's trading halt (read by ``trading_allowed``) and fail so that the run is red and alerts."""
    failed = sorted(name for name, check in result.get("checks", {}).items() if not check.get("ok"))
    reason = f"environment checks failed: {', '.join(failed) or 'unknown'}"
    day = run_trading_day(_conf()).isoformat()
    Variable.set(TRADING_HALT_VARIABLE, json.dumps({"date": day, "reason": reason}))
    raise AirflowFailException(f"{reason}; trading halted for the {day} session (New York)")


@task(task_id="snapshot")
def trading_snapshot() -> dict[str, Any]:
    """Equity snapshot and trading metrics after the cycle."""
    from portfolio.trader import portfolio_snapshot

    ctx = get_current_context()
    with _run_scope():
        snapshot = portfolio_snapshot(run_id=ctx["run_id"])
    return _with_lineage("tasks.trading_snapshot", snapshot)


def _check(name: str, job: str) -> Any:
    from monitoring import health

    with _run_scope():
        result = getattr(health, name)()
    return _with_lineage(job, result)


@task(task_id="pipeline_health")
def pipeline_health() -> dict[str, Any]:
    """Checkpoints, event-log streams and rotation."""
    return _check("pipeline_health", "tasks.pipeline_health")


@task(task_id="database_integrity")
def database_integrity() -> dict[str, Any]:
    """SQLite ``integrity_check`` and a fresh online backup; fails the task when the database is damaged."""
    return _check("database_health", "tasks.database_integrity")


@task(task_id="data_source_availability")
def data_source_availability() -> dict[str, Any]:
    """Which market-data sources are usable right now (keys, network, cache)."""
    return _check("data_source_health", "tasks.data_source_availability")


@task(task_id="performance_snapshot")
def performance_snapshot() -> dict[str, Any]:
    """Write the offline performance report (HTML + JSON) under ``reports/``."""
    return _check("performance_snapshot", "tasks.performance_snapshot")


@task(task_id="performance_report", trigger_rule="all_done")
def run_report() -> dict[str, Any]:
    """The offline performance report of this run, built after every other task of it has ended."""
    from monitoring import health
    from orchestration.run_report import effective_leaves, run_state

    ctx = get_current_context()
    ti, dag_run = ctx["ti"], ctx["dag_run"]
    own = ti.task_id
    try:
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
        state = run_state(states, effective_leaves(ctx["dag"].tasks, own), own)
    except Exception as exc:  # the report is still worth writing; say why the state is unknown
        state = f"unknown ({type(exc).__name__}: {str(exc)[:120]})"
    start = getattr(dag_run, "start_date", None)
    run_type = getattr(dag_run, "run_type", None)
    run = {"dag_id": ti.dag_id, "run_id": ti.run_id, "state": state,
           "run_type": str(getattr(run_type, "value", run_type)) if run_type else None,
           "start_date": start.isoformat() if start else None}
    with _run_scope():
        report = health.performance_snapshot(run=run)
    return _with_lineage("tasks.run_report", report)
