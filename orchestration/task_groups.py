"""Task-group factories shared by the standalone DAGs and ``portfolio_master``."""

from __future__ import annotations

from typing import Any, NamedTuple

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Asset, TaskGroup

from orchestration import tasks
from orchestration.config import load_orchestration
from orchestration.dag_defaults import mapped_limits, pool_args, retry_args
from orchestration.operators import (
    AutoTraderBatchOperator,
    AutoTraderOperator,
    CoreAutoTraderBatchOperator,
    CoreAutoTraderOperator,
    MonitoringOperator,
    PortfolioETLBatchOperator,
    PortfolioETLRetryOperator,
    QuantValidationOperator,
)
from orchestration.sensors import MarketHoursSensor

OHLCV_ASSET = Asset(name="portfolio_ohlcv", uri="portfolio://market-data/ohlcv", group="portfolio")
FORECASTS_ASSET = Asset(name="portfolio_forecasts", uri="portfolio://market-data/forecasts", group="portfolio")


class EtlGroup(NamedTuple):
    """The ``etl`` task group and the tasks whose end is the ETL's end (what downstream work waits for)."""

    group: TaskGroup
    ends: list[Any]


def etl_group() -> EtlGroup:
    """plan (tickers -> batches) -> batch (mapped: every stage of each ticker of one batch) -> failed_tickers ->
    retry_failed (mapped per failed ticker, Airflow retries with backoff; no instance when none failed).

    A failing ticker never fails its batch: the batch reports it, ``retry_failed`` re-runs only that ticker from
    its checkpoint and fails (dead letter) when it still fails after its retries. Both writing tasks carry the
    OHLCV and FORECASTS Assets. Pools: see docs/dag_reference.md.
    """
    batching = load_orchestration().etl_batches
    with TaskGroup(group_id="etl") as group:
        plan: Any = tasks.plan_etl_batches()
        batch = PortfolioETLBatchOperator.partial(
            task_id="batch", **pool_args("api_pool"), threads=batching.threads, outlets=[OHLCV_ASSET, FORECASTS_ASSET],
            **retry_args("etl_batch"), **mapped_limits(),
        ).expand(tickers=plan)
        outcomes: Any = batch.output  # one small dict per batch
        failed: Any = tasks.failed_tickers(plan, outcomes)
        retry = PortfolioETLRetryOperator.partial(
            task_id="retry_failed", **pool_args("api_pool"), outlets=[OHLCV_ASSET, FORECASTS_ASSET],
            **retry_args("etl_retry"), **mapped_limits(),
        ).expand(ticker=failed)
    return EtlGroup(group, [failed, retry])


def trading_group(*, core: bool = False, trigger_rule: str = "all_success") -> TaskGroup:
    """trading_allowed (halt check; the tickers cut into batches) -> market-hours sensor -> (core: trade budget)
    -> trade (mapped per batch) -> failed_tickers -> retry_failed (mapped per failed ticker) -> snapshot.

    As in :func:`etl_group`, a failing ticker never fails its batch: ``retry_failed`` retries that ticker alone
    (Airflow retries, ``trading`` retry type) and fails when it still fails; no instance when none failed.
    """
    hours = load_orchestration().market_hours
    with TaskGroup(group_id="trading") as group:
        batches: Any = tasks.trading_allowed.override(trigger_rule=trigger_rule)(core=core)
        market_open = MarketHoursSensor(
            task_id="market_open", calendar=hours.calendar, soft_fail=True, poke_interval=hours.poke_interval_seconds,
            max_wait_seconds=hours.max_wait_seconds, bypass_in_synthetic_mode=hours.bypass_in_synthetic_mode,
        )
        batch_operator = CoreAutoTraderBatchOperator if core else AutoTraderBatchOperator
        trade = batch_operator.partial(task_id="trade", **pool_args("trading_pool"), **retry_args("trading"),
                                       **mapped_limits()).expand(tickers=batches)
        outcomes: Any = trade.output  # one small dict per batch
        failed: Any = tasks.failed_tickers(batches, outcomes)
        retry_operator = CoreAutoTraderOperator if core else AutoTraderOperator
        retry = retry_operator.partial(task_id="retry_failed", **pool_args("trading_pool"), **retry_args("trading"),
                                       **mapped_limits()).expand(ticker=failed)
        snapshot = tasks.trading_snapshot.override(trigger_rule="none_failed_min_one_success")()
        if core:
            batches >> market_open >> tasks.core_trade_budget() >> trade
        else:
            batches >> market_open >> trade
        [failed, retry] >> snapshot
    return group


def monitoring_group(trigger_rule: str = "all_success", *, report: bool = True) -> TaskGroup:
    """Independent health checks, run in parallel (``report=False``: without the performance report)."""
    retry = retry_args("monitoring")
    with TaskGroup(group_id="monitoring") as group:
        start = EmptyOperator(task_id="start", trigger_rule=trigger_rule)
        checks = [
            MonitoringOperator(task_id="forecaster_monitor", **retry),
            tasks.pipeline_health.override(**retry)(),
            tasks.database_integrity.override(**pool_args("database_pool"), **retry)(),
            tasks.data_source_availability.override(**retry)(),
            QuantValidationOperator(task_id="quant_health", **retry),
        ]
        if report:
            checks.append(tasks.performance_snapshot.override(**retry)())
        start >> checks
    return group


def env_sanity_group() -> Any:
    """validate_environment -> branch: environment_ok, or halt_trading (records the halt and fails).

    Returns ``environment_ok``: what runs downstream of the gate hangs off it.
    """
    with TaskGroup(group_id="env_sanity"):
        result: Any = tasks.validate_environment()  # an XComArg standing for the task's dict
        ok: Any = tasks.environment_ok()
        halt: Any = tasks.halt_trading(result)
        tasks.environment_gate(result, ok_task=ok.operator.task_id, halt_task=halt.operator.task_id) >> [ok, halt]
    return ok


def run_report_task(after: list[Any]) -> Any:
    """The performance report of the run, once everything in ``after`` has ended, whatever its state.

    A teardown (its trigger rule is ``all_done`` when, as here, it has no setup): Airflow leaves teardowns out
    of a run's state, so a failed trade still fails the run although the report after it succeeds.
    """
    report = tasks.run_report.override(**retry_args("monitoring"))().as_teardown()
    after >> report
    return report
