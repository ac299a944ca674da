"""listener_scenarios: each task outcome the listener reports (success, retry+success, failure, skip, mapped).

``broken`` reads the Connection ``listener_secret`` and puts its password in the exception message: the
listener tests check that the secret never reaches an event, a metric or an alert.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

SECRET_CONN_ID = "listener_secret"

with DAG(dag_id="listener_scenarios", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["test", "listener"], default_args={"retries": 0}) as dag:

    @task
    def ok() -> int:
        return 1

    @task(retries=1, retry_delay=timedelta(seconds=1))
    def flaky() -> str:
        from airflow.sdk import get_current_context

        if get_current_context()["ti"].try_number < 2:
            raise RuntimeError("first try fails on purpose")
        return "recovered"

    @task
    def broken() -> None:
        from airflow.sdk import Connection

        conn = Connection.get(SECRET_CONN_ID)
        raise PermissionError(f"upstream refused the login; credential used: {conn.password}")

    @task
    def skipper() -> None:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException("nothing to do today")

    @task
    def square(x: int) -> int:
        return x * x

    ok()
    flaky()
    broken()
    skipper()
    square.expand(x=[1, 2, 3])
