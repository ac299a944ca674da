"""auto_trader_core: hourly core-ticker accumulation (`--core-mode`) with a daily trade-count budget."""

from __future__ import annotations

from airflow.sdk import DAG

from orchestration.dag_defaults import dag_kwargs
from orchestration.task_groups import trading_group

with DAG(**dag_kwargs("auto_trader_core")) as dag:
    trading_group(core=True)
