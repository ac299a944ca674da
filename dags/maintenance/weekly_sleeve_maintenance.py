"""weekly_sleeve_maintenance: strategy optimization, then sleeve rebalancing (cron `0 5 * * 1`)."""

from __future__ import annotations

from airflow.sdk import DAG

from orchestration.dag_defaults import dag_kwargs, retry_args
from orchestration.operators import SleeveMaintenanceOperator, StrategyOptimizationOperator

with DAG(**dag_kwargs("weekly_sleeve_maintenance")) as dag:
    optimize = StrategyOptimizationOperator(task_id="run_strategy_optimization", **retry_args("maintenance"))
    sleeves = SleeveMaintenanceOperator(task_id="weekly_sleeve_maintenance", **retry_args("maintenance"))
    optimize >> sleeves
