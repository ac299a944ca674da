"""Task-group factories shared by the standalone DAGs and ``portfolio_master``."""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Asset, TaskGroup, task_group

from orchestration import tasks
from orchestration.config import load_orchestration
from orchestration.dag_defaults import mapped_limits, retry_args
from orchestration.operators import (
    AutoTraderOperator,
    CoreAutoTraderOperator,
    MonitoringOperator,
    PortfolioETLOperator,
    QuantValidationOperator,
)
from orchestration.sensors import MarketHoursSensor

OHLCV_ASSET = Asset(name="portfolio_ohlcv", uri="portfolio://market-data/ohlcv", group="portfolio")
FORECASTS_ASSET = Asset(name="portfolio_forecasts", uri="portfolio://market-data/forecasts", group="portfolio")


def etl_group(tickers: Any) -> Any:
    """Per ticker (mapped): extract -> quality_check -> load -> forecast; load and forecast emit Assets."""

    @task_group(group_id="etl")
    def ticker_etl(ticker: str) -> None:
        extract = PortfolioETLOperator(task_id="extract", stage="extract", ticker=ticker, pool="api_pool",
                                       **retry_args("extract"), **mapped_limits())
        quality = PortfolioETLOperator(task_id="quality_check", stage="quality", ticker=ticker,
                                       **retry_args("quality"), **mapped_limits())
        load = PortfolioETLOperator(task_id="load", stage="load", ticker=ticker, pool="database_pool",
                                    outlets=[OHLCV_ASSET], **retry_args("load"), **mapped_limits())
        forecast = PortfolioETLOperator(task_id="forecast", stage="forecast", ticker=ticker, pool="gpu_pool",
                                        outlets=[FORECASTS_ASSET], **retry_args("forecast"), **mapped_limits())
        extract >> quality >> load >> forecast

    return ticker_etl.expand(ticker=tickers)


def trading_group(*, core: bool = False, trigger_rule: str = "all_success") -> TaskGroup:
    """Halt check -> market-hours sensor -> (core: trade budget) -> trade per ticker (mapped) -> snapshot."""
    hours = load_orchestration().market_hours
    with TaskGroup(group_id="trading") as group:
        allowed = tasks.trading_allowed.override(trigger_rule=trigger_rule)()
        market_open = MarketHoursSensor(
            task_id="market_open", calendar=hours.calendar, soft_fail=True, poke_interval=hours.poke_interval_seconds,
            max_wait_seconds=hours.max_wait_seconds, bypass_in_synthetic_mode=hours.bypass_in_synthetic_mode,
        )
        tickers = tasks.resolve_tickers(core=core)
        operator = CoreAutoTraderOperator if core else AutoTraderOperator
        trade = operator.partial(task_id="trade", pool="trading_pool", **retry_args("trading"),
                                 **mapped_limits()).expand(ticker=tickers)
        snapshot = tasks.trading_snapshot()
        if core:
            allowed >> market_open >> tasks.core_trade_budget() >> tickers
        else:
            allowed >> market_open >> tickers
        trade >> snapshot
    return group


def monitoring_group(trigger_rule: str = "all_success", *, report: bool = True) -> TaskGroup:
    """Independent health checks, run in parallel (``report=False``: without the performance report)."""
    retry = retry_args("monitoring")
    with TaskGroup(group_id="monitoring") as group:
        start = EmptyOperator(task_id="start", trigger_rule=trigger_rule)
        checks = [
            MonitoringOperator(task_id="forecaster_monitor", **retry),
            tasks.pipeline_health.override(**retry)(),
            tasks.database_integrity.override(pool="database_pool", **retry)(),
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
