"""First-start scenarios for tests/integration/test_sla_first_start.py: daily DAGs whose latest slot is past.

Unpausing either one makes Airflow create the catch-up run of today's 00:00 UTC slot, whose deadline
(slot + 5 min) has passed before the run exists: the miss fires at once, as ``portfolio_master_premarket``
does on a first ``make up``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, CronTriggerTimetable, task

from alerts.deadlines import deadline_alerts
from alerts.sla_config import SlaSpec

for dag_id in ("sla_first_start", "sla_after_downtime"):
    with DAG(
        dag_id=dag_id,
        schedule=CronTriggerTimetable("0 0 * * *", timezone="UTC"),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        tags=["test", "sla"],
        default_args={"retries": 3, "retry_delay": timedelta(seconds=2)},
        deadline=deadline_alerts(SlaSpec(name=f"{dag_id}_sla", dag_id=dag_id, runbook="#test-scenarios",
                                         reference="scheduled", interval="5m", manual_interval="1h",
                                         severity="critical", channels=["pagerduty", "local"])),
    ):

        @task
        def noop() -> str:
            return "ok"

        noop()
