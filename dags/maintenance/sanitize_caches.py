"""sanitize_caches: daily cleanup at 03:30 New York (after nightly_backfill, before the 04:00 sweeps)."""

from __future__ import annotations

from airflow.sdk import DAG

from orchestration.dag_defaults import dag_kwargs, retry_args
from orchestration.operators import SanitizeOperator

with DAG(**dag_kwargs("sanitize_caches")) as dag:
    SanitizeOperator(task_id="sanitize_cache_and_logs", **retry_args("maintenance"))
