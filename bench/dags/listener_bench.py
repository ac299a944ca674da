"""listener_bench: 100 independent no-op tasks, for bench/listener_overhead.py (plugin on vs off)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

TASKS = 100

with DAG(dag_id="listener_bench", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["bench"], max_active_tasks=16) as dag:

    @task
    def noop(i: int) -> int:
        return i

    for i in range(TASKS):
        noop.override(task_id=f"noop_{i:03d}")(i)
