"""A DAG that is not ours: two Python tasks, the second slow enough to miss the few-second SLA of slas.yml.

It knows nothing of the trading pipeline; its only tie to the add-on is the one public call that turns its
SLAs into Airflow Deadline Alerts. Each task proves the trading packages cannot be imported in its process.
"""

from __future__ import annotations

import importlib
import time
from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from alerts.deadlines import deadlines_for_dag

SLOW_SECONDS = 12


def _trading_is_blocked() -> None:
    for name in ("portfolio", "scripts"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        raise RuntimeError(f"{name} is importable in this task process")


def receive() -> int:
    _trading_is_blocked()
    return 3


def pack() -> str:
    _trading_is_blocked()
    time.sleep(SLOW_SECONDS)
    return "packed"


with DAG(
    dag_id="acme_orders",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["acme"],
    deadline=deadlines_for_dag("acme_orders"),
):
    PythonOperator(task_id="receive", python_callable=receive) >> PythonOperator(task_id="pack", python_callable=pack)
