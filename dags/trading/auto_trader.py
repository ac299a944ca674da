"""auto_trader: paper trading every 30 minutes in market hours, and whenever daily_etl refreshes the data."""

from __future__ import annotations

from airflow.sdk import DAG

from orchestration.dag_defaults import dag_kwargs
from orchestration.task_groups import OHLCV_ASSET, trading_group

with DAG(**dag_kwargs("auto_trader", also_on_assets=[OHLCV_ASSET])) as dag:
    trading_group()
