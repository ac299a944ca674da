"""ts_threshold_sweep: weekly sweep of (confidence_threshold, min_expected_return) (cron `0 4 * * 1`)."""

from __future__ import annotations

from airflow.sdk import DAG

from orchestration.dag_defaults import dag_kwargs, retry_args
from orchestration.operators import TSThresholdSweepOperator

with DAG(**dag_kwargs("ts_threshold_sweep")) as dag:
    TSThresholdSweepOperator(task_id="sweep_ts_thresholds", **retry_args("maintenance"))
