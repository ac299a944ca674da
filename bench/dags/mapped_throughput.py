"""mapped_throughput: ``inputs`` -> ``double`` mapped over ``params.tasks`` inputs -> ``done``, trivial work, for
bench/scheduler_throughput.py (task instances per minute, plugin on vs off)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param, get_current_context, task

with DAG(dag_id="mapped_throughput", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["bench"], params={"tasks": Param(200, type="integer", minimum=1, maximum=1024)}) as dag:

    @task
    def inputs() -> list[int]:
        return list(range(int(get_current_context()["params"]["tasks"])))

    @task
    def double(x: int) -> int:
        return x * 2

    @task
    def done() -> None:
        """Waits for every mapped instance; pulls none of their results."""

    double.expand(x=inputs()) >> done()
