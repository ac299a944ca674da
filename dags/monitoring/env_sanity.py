"""env_sanity: pre-market environment validation; a failure halts the day's trading (branch to halt_trading)."""

from __future__ import annotations

from airflow.sdk import DAG

from orchestration.dag_defaults import dag_kwargs
from orchestration.task_groups import env_sanity_group

with DAG(**dag_kwargs("env_sanity")) as dag:
    env_sanity_group()
