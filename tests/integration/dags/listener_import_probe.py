"""listener_import_probe: imports cleanly, unless the stack's PMX_HOME holds ``listener_import_probe.fail``.

The listener tests create that marker to make the dag-processor report an import error (new, then existing on
every parse) in their own stack only, and remove it afterwards.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, task

if os.path.exists(os.path.join(os.environ.get("PMX_HOME", "/nonexistent"), "listener_import_probe.fail")):
    raise ImportError("listener_import_probe: failing on purpose (marker file present)")

with DAG(dag_id="listener_import_probe", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["test", "listener"]) as dag:

    @task
    def noop() -> None:
        return None

    noop()
