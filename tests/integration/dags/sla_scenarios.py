"""SLA scenarios for tests/integration/test_sla_*.py and bench/sla_latency.py (inline SLA specs, tiny tasks).

* ``sla_cron``     - scheduled every minute; deadline 5 s after the scheduled time; waits for a gate file.
* ``sla_gated``    - manual runs of an SLA anchored on the schedule: deadline = queued_at + 5 s; gate file.
* ``sla_starved``  - first task in ``sla_zero_pool`` (0 slots until the test opens it); queued_at + 5 s.
* ``sla_quick``    - sleeps ``conf.sleep`` seconds (default 6) against a 2 s budget: one miss per run.
* ``sla_slowed``   - prepare -> crunch (sleeps ``conf.sleep``, default 0.1 s) -> publish against a 30 s budget
  with a 12 s early-warning margin: a healthy run is far inside it, a slowed one is warned, then misses.

A gate is the file ``$PMX_HOME/sla_gates/<dag_id>/<run_id>``; the test creates it to let the run succeed.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, CronTriggerTimetable, task

from alerts.deadlines import deadline_alerts
from alerts.sla_config import SlaSpec

START = datetime(2026, 1, 1)
BOTH = ["pagerduty", "slack"]
# a busy test machine can time a task's start out against the execution API: retry instead of failing the run
DEFAULTS = {"retries": 3, "retry_delay": timedelta(seconds=2)}


def gate_path(dag_id: str, run_id: str) -> Path:
    """Where the test opens the gate of one run."""
    return Path(os.environ.get("PMX_HOME", ".")) / "sla_gates" / dag_id / run_id


def _gate_sensor():  # type: ignore[no-untyped-def]
    @task.sensor(poke_interval=1, timeout=1800, mode="poke")
    def wait_for_gate(dag_run=None) -> bool:  # type: ignore[no-untyped-def]
        return gate_path(dag_run.dag_id, dag_run.run_id).exists()

    return wait_for_gate()


def _spec(dag_id: str, **fields: object) -> list:  # type: ignore[type-arg]
    return deadline_alerts(SlaSpec(name=f"{dag_id}_sla", dag_id=dag_id, runbook="#test-scenarios", **fields))


def _dag(dag_id: str, schedule: object = None, **sla: object) -> dict:  # type: ignore[type-arg]
    return {
        "dag_id": dag_id,
        "schedule": schedule,
        "start_date": START,
        "catchup": False,
        "tags": ["test", "sla"],
        "default_args": DEFAULTS,
        "deadline": _spec(dag_id, **sla),
    }


with DAG(
    **_dag(
        "sla_cron",
        CronTriggerTimetable("* * * * *", timezone="UTC"),
        reference="scheduled",
        interval="5s",
        manual_interval="1h",
        severity="critical",
        channels=BOTH,
    ),
    max_active_runs=1,
):
    _gate_sensor()

with DAG(**_dag("sla_gated", reference="scheduled", interval="1h", manual_interval="5s", severity="error")):
    _gate_sensor()

with DAG(**_dag("sla_starved", reference="queued", interval="5s", severity="critical", channels=BOTH)):

    @task(pool="sla_zero_pool")
    def starved() -> str:
        return "finally ran"

    starved()

with DAG(
    **_dag("sla_quick", reference="queued", interval="2s", severity="critical", channels=BOTH),
    max_active_runs=8,
):

    @task
    def late(dag_run=None) -> float:  # type: ignore[no-untyped-def]
        import time

        seconds = float((dag_run.conf or {}).get("sleep", 6))
        time.sleep(seconds)
        return seconds

    late()

with DAG(
    **_dag("sla_slowed", reference="queued", interval="30s", warning_margin="12s", severity="critical",
           channels=BOTH),
    max_active_runs=1,
):

    @task
    def prepare() -> str:
        return "ready"

    @task
    def crunch(ready: str, dag_run=None) -> float:  # type: ignore[no-untyped-def]
        import time

        seconds = float((dag_run.conf or {}).get("sleep", 0.1))
        time.sleep(seconds)
        return seconds

    @task
    def publish(seconds: float) -> str:
        return f"crunched for {seconds} s"

    publish(crunch(prepare()))
