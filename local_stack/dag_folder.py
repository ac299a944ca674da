"""Parse the project's DAG folder with Airflow's ``DagBag``, outside a running stack.

Shared by the tools that read the DAGs as Airflow builds them (the cutover's schedule comparison, the DAG
reference): no metadata database is needed; Airflow's parse log goes to stderr so that stdout stays the tool's.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from foundation.paths import REPO_ROOT

DAGS_DIR = REPO_ROOT / "dags"


class DagLoadError(RuntimeError):
    """The DAG folder did not load (import errors), a DAG is missing, or the DAGs were parsed without schedules."""


def load_dags(dags_dir: Path = DAGS_DIR) -> dict[str, Any]:
    """``dag_id -> DAG`` of every DAG of ``dags_dir``, with their schedules; raises :class:`DagLoadError`."""
    os.environ.setdefault("AIRFLOW_HOME", str(REPO_ROOT / ".airflow"))  # never the user's ~/airflow
    if os.environ.get("PMX_SCHEDULES", "on").strip().lower() == "off":
        raise DagLoadError("PMX_SCHEDULES=off parses every DAG without a schedule; unset it to read the schedules")
    from airflow.dag_processing.dagbag import DagBag

    with contextlib.redirect_stdout(sys.stderr):  # Airflow logs the parsing to stdout
        bag = DagBag(dag_folder=str(dags_dir))
    if bag.import_errors:
        raise DagLoadError(f"the DAG folder {dags_dir} has import errors: {bag.import_errors}")
    return dict(bag.dags)
