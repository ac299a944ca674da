"""What each job of the pipeline reads and writes: one declarative table, in dataset names only.

A job is an operator's entrypoint (``<script>.<function>``, as ``orchestration/operators.py`` names them) or a
TaskFlow task of ``orchestration/tasks.py`` (``tasks.<function>``). A dataset spec is a name of
:mod:`lineage.datasets` (``db/ohlcv``, ``automation/transaction_costs.json``...) or a per-ticker placeholder:

* ``{market_data}``: the provider API each ticker was fetched from (known when the job reports its sources);
* ``{synthetic}``: the synthetic data of each ticker.

The add-on keeps this table in names: the pipeline (``orchestration``) binds it to its runs, its results and its
table schemas. docs/lineage.md shows the resulting graph.
"""

from __future__ import annotations

from typing import NamedTuple

MARKET_DATA = "{market_data}"
SYNTHETIC = "{synthetic}"
PLACEHOLDERS = (MARKET_DATA, SYNTHETIC)
DEAD_LETTERS = "db/dead_letters"


class JobDatasets(NamedTuple):
    """The dataset specs a job reads and writes."""

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


_ETL = JobDatasets(
    reads=(MARKET_DATA, "cache/market_data", "db/ohlcv"),  # db/ohlcv: the history the forecast step reads
    writes=("cache/market_data", "staging", "db/ohlcv", "db/etl_runs", "db/forecasts", "db/forecast_metrics",
            "checkpoints/etl"),
)
_REPORT = JobDatasets(
    reads=("db/ohlcv", "db/etl_runs", "db/forecasts", "db/forecast_metrics", "db/signals", "db/trades",
           "db/equity_snapshots", "logs/pipeline"),
    writes=("reports/performance_report.html", "reports/performance_report.json"),
)
_PANEL = ("db/ohlcv", "db/forecasts")
_TRADER = JobDatasets(
    reads=("db/ohlcv", "db/forecasts", "db/bar_state", "db/positions", "db/account"),
    writes=("db/signals", "db/trades", "db/positions", "db/account", "db/bar_state"),
)

JOBS: dict[str, JobDatasets] = {
    # operators (orchestration/operators.py), by entrypoint
    "run_etl_pipeline.run_batch": _ETL,
    "run_etl_pipeline.run_stage": _ETL,
    "run_etl_pipeline.run": _ETL,
    "run_auto_trader.run": _TRADER,
    "run_auto_trader.run_batch": _TRADER,
    "monitor_llm_system.run": JobDatasets(
        reads=("db/ohlcv", "db/forecast_metrics", "db/signals", "db/trades", "db/equity_snapshots"),
        writes=("logs/latency_benchmark.json", "logs/forecaster_monitoring.json")),
    "backfill_signal_validation.run": JobDatasets(reads=("db/signals", "db/ohlcv"), writes=("db/signals",)),
    "generate_synthetic_dataset.run": JobDatasets(writes=(SYNTHETIC,)),
    "sweep_ts_thresholds.run": JobDatasets(reads=_PANEL, writes=("automation/ts_threshold_sweep.json",)),
    "estimate_transaction_costs.run": JobDatasets(reads=("db/trades", "db/ohlcv"),
                                                  writes=("automation/transaction_costs.json",)),
    "run_strategy_optimization.run": JobDatasets(reads=_PANEL, writes=("automation/strategy_optimization.json",)),
    "check_quant_validation_health.run": JobDatasets(reads=("db/equity_snapshots", "db/trades"),
                                                     writes=("automation/quant_validation_health.json",)),
    "weekly_sleeve_maintenance.run": JobDatasets(reads=("db/ohlcv", "db/trades", "db/forecast_metrics"),
                                                 writes=("automation/sleeve_maintenance.json",)),
    "sanitize_cache_and_logs.run": JobDatasets(  # prunes: every pruned store is changed, hence written
        writes=("cache/market_data", "logs/pipeline", "checkpoints/etl", "staging", "backups/db")),
    # TaskFlow tasks (orchestration/tasks.py), by function
    "tasks.core_trade_budget": JobDatasets(reads=("db/trades",)),
    "tasks.trading_snapshot": JobDatasets(reads=("db/positions", "db/account", "db/ohlcv"),
                                          writes=("db/equity_snapshots",)),
    "tasks.pipeline_health": JobDatasets(reads=("checkpoints/etl", "logs/pipeline")),
    "tasks.database_integrity": JobDatasets(
        reads=("db/ohlcv", "db/etl_runs", "db/forecasts", "db/signals", "db/trades", "db/positions",
               "db/equity_snapshots", "db/dead_letters"),
        writes=("backups/db",)),
    "tasks.data_source_availability": JobDatasets(reads=("cache/market_data",)),
    "tasks.performance_snapshot": _REPORT,
    "tasks.run_report": _REPORT,
}


def job_datasets(job: str) -> JobDatasets:
    """The datasets of ``job``; an unknown job reads and writes nothing."""
    return JOBS.get(job, JobDatasets())
