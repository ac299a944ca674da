"""daily_etl: pre-market ETL (cron `15 5 * * 1-5`, New York): batches of tickers, then a retry per failed ticker."""

from __future__ import annotations

from airflow.sdk import DAG

from orchestration.dag_defaults import dag_kwargs
from orchestration.task_groups import etl_group

with DAG(**dag_kwargs("daily_etl")) as dag:
    etl_group()
