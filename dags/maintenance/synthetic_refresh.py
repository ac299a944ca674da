"""synthetic_refresh: weekly synthetic dataset refresh, moving the `latest` pointer (cron `0 1 * * 1`)."""

from __future__ import annotations

from airflow.sdk import DAG

from orchestration.dag_defaults import dag_kwargs, retry_args
from orchestration.operators import SyntheticDataOperator

with DAG(**dag_kwargs("synthetic_refresh")) as dag:
    SyntheticDataOperator(task_id="generate_synthetic_dataset", **retry_args("maintenance"))
