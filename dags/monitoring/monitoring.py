"""monitoring: hourly health checks (forecaster, pipeline, database, data sources, quant health, performance)."""

from __future__ import annotations

from airflow.sdk import DAG

from orchestration.dag_defaults import dag_kwargs
from orchestration.task_groups import monitoring_group

with DAG(**dag_kwargs("monitoring")) as dag:
    monitoring_group()
