"""stack_smoke: one trivial task, used to prove the test stack schedules and runs tasks."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

with DAG(dag_id="stack_smoke", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as dag:

    @task
    def hello() -> str:
        return "hello"

    hello()
