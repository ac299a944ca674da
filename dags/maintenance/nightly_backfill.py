"""nightly_backfill: fill realized returns into past signals (cron `5 2 * * *`)."""

from __future__ import annotations

from airflow.sdk import DAG

from orchestration.dag_defaults import dag_kwargs, pool_args, retry_args
from orchestration.operators import BackfillOperator

with DAG(**dag_kwargs("nightly_backfill")) as dag:
    BackfillOperator(task_id="backfill_signal_validation", **pool_args("database_pool"), **retry_args("maintenance"))
