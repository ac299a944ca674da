"""secret_canary: one task that uses a Connection password, echoes the run conf and fails with the password.

The secret-canary test (tests/integration/test_secret_canary.py) puts a canary in the Connection
``pmx_secret_canary`` and in the run conf; every file the run leaves must stay free of it.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

CANARY_CONN_ID = "pmx_secret_canary"

with DAG(dag_id="secret_canary", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["test", "secrets"], default_args={"retries": 0}) as dag:

    @task
    def use_credential() -> None:
        from airflow.sdk import Connection, get_current_context

        conn = Connection.get(CANARY_CONN_ID)
        conf = get_current_context()["dag_run"].conf or {}
        print(f"run conf: {conf}")
        raise PermissionError(f"broker refused the login; credential used: {conn.password}")

    use_credential()
