"""shipped_streak: one task that fails when the run's conf says ``fail``; drives the error monitor's streak rule."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

with DAG(dag_id="shipped_streak", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["test", "listener"], default_args={"retries": 0}) as dag:

    @task
    def outcome() -> str:
        from airflow.sdk import get_current_context

        if (get_current_context()["dag_run"].conf or {}).get("fail"):
            raise RuntimeError("failing on purpose (shipped_streak)")
        return "ok"

    outcome()
