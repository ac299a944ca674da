"""DAGs of the scale-out test (tests/integration/test_scale_path.py): two Celery workers with their own homes.

* ``scale_out_failures`` - three tasks fail for good: two on the ``gpu`` queue (only worker ``a`` listens to it),
  one on ``trading`` (only worker ``b``): the ``dag_failures`` rule (threshold 3) sees 2 + 1 across hosts.
* ``scale_out_long``     - one task on the shared ``default`` queue that runs ``conf.seconds`` (default 60) on its
  first try and a second on its retry: the test kills the worker running the first try.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

with DAG(dag_id="scale_out_failures", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["test", "scale-out"], default_args={"retries": 0}):

    @task(queue="gpu")
    def fail_on_a(n: int) -> None:
        raise RuntimeError(f"failure {n} on the gpu queue, on purpose")

    @task(queue="trading")
    def fail_on_b() -> None:
        raise RuntimeError("failure on the trading queue, on purpose")

    fail_on_a.override(task_id="fail_on_a_1")(1)
    fail_on_a.override(task_id="fail_on_a_2")(2)
    fail_on_b()


with DAG(dag_id="scale_out_long", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["test", "scale-out"]):

    @task(queue="default", retries=1, retry_delay=timedelta(seconds=1))
    def long_running(dag_run=None, ti=None) -> int:  # type: ignore[no-untyped-def]
        import time

        seconds = float((dag_run.conf or {}).get("seconds", 60)) if ti.try_number == 1 else 1.0
        time.sleep(seconds)
        return int(seconds)

    long_running()
