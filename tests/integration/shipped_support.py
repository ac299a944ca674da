"""Create DAG runs on the session stack as the scheduler does, with the run's creation clock pinned.

``python -m tests.integration.shipped_support '<json>'`` runs with the stack's environment (its metadata
database), so the run goes through Airflow's own ``SerializedDAG.create_dagrun``: the Deadline rows are computed
by Airflow's references from the Deadline Alerts the stack's dag-processor built from ``config/slas.yml``. Only
``timezone.utcnow`` is pinned (to ``pinned_now``) while the run is created, so that a ``queued`` or
``average_runtime`` deadline (``queued_at`` / creation time + interval) is already in the past instead of
minutes or hours away; the scheduler and triggerer that handle it run on the real clock.

Each request: ``dag_id``, ``run_id``, ``logical_date`` (ISO), ``pinned_now`` (ISO or null), ``state``
(``queued`` or ``success``), ``start_date`` / ``end_date`` (ISO, success runs) and ``keep_deadlines``
(false for history runs: a finished run has no pending deadline). Prints one JSON line per run: its
deadlines (alert name -> deadline time).
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import datetime
from typing import Any


@contextmanager
def pinned_clock(now: datetime | None):
    """``airflow._shared.timezones.timezone.utcnow`` returns ``now`` inside the block."""
    from airflow._shared.timezones import timezone

    if now is None:
        yield
        return
    original = timezone.utcnow
    timezone.utcnow = lambda: now  # type: ignore[assignment]
    try:
        yield
    finally:
        timezone.utcnow = original  # type: ignore[assignment]


def create_run(request: dict[str, Any]) -> dict[str, Any]:
    """One run created through Airflow's ``create_dagrun``; its deadlines."""
    from airflow.models.deadline import Deadline
    from airflow.models.deadline_alert import DeadlineAlert
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import delete, select

    logical = datetime.fromisoformat(request["logical_date"])
    pinned = datetime.fromisoformat(request["pinned_now"]) if request.get("pinned_now") else None
    with create_session() as session:
        dag = SerializedDagModel.get_dag(request["dag_id"], session=session)
        assert dag is not None, f"{request['dag_id']} is not serialized on this stack"
        with pinned_clock(pinned):
            run = dag.create_dagrun(
                run_id=request["run_id"], logical_date=logical, data_interval=(logical, logical), run_after=logical,
                run_type=DagRunType.SCHEDULED, triggered_by=DagRunTriggeredByType.TIMETABLE,
                state=DagRunState(request["state"]), session=session,
            )
            session.flush()
        if request["state"] == "success":
            run.start_date = datetime.fromisoformat(request["start_date"])
            run.end_date = datetime.fromisoformat(request["end_date"])
        if not request.get("keep_deadlines", True):
            session.execute(delete(Deadline).where(Deadline.dagrun_id == run.id))
        session.flush()
        rows = session.execute(
            select(DeadlineAlert.name, Deadline.deadline_time)
            .join(DeadlineAlert, DeadlineAlert.id == Deadline.deadline_alert_id)
            .where(Deadline.dagrun_id == run.id)
        ).all()
        return {"run_id": run.run_id, "queued_at": run.queued_at.isoformat() if run.queued_at else None,
                "deadlines": {name: when.isoformat() for name, when in rows}}


def main(argv: list[str]) -> int:
    """Create every run of the JSON list in ``argv[0]``; print one JSON line per run."""
    for request in json.loads(argv[0]):
        print(json.dumps(create_run(request)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
