"""A custom Deadline reference: the time the DAG run was queued.

Same meaning as Airflow's ``DeadlineReference.DAGRUN_QUEUED_AT``, without its recalculation on clear: Airflow
3.3.2 recalculates pending ``DAGRUN_QUEUED_AT`` deadlines when a task of the run is cleared and fails there
(``timedelta(seconds=<stored interval dict>)``), so every "clear" of a run with such a deadline (UI, REST API,
dead-letter replay) answered 500. A cleared and re-run run keeps the deadline of its first queueing: a
replay that ends after it counts as late, which it is. Registered through the project's plugin
(``deadline_references``), evaluated when the run is created (scheduled and manual runs are created queued).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseDeadlineReference  # type: ignore[attr-defined]

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class RunQueuedAt(BaseDeadlineReference):
    """Deadline reference: ``dag_run.queued_at``."""

    required_kwargs = frozenset({"dag_id", "run_id"})

    def _evaluate_with(self, *, session: Session, **kwargs: Any) -> datetime | None:
        from airflow.models import DagRun
        from sqlalchemy import select

        return session.scalar(
            select(DagRun.queued_at).where(DagRun.dag_id == kwargs["dag_id"], DagRun.run_id == kwargs["run_id"])
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunQueuedAt)

    def __hash__(self) -> int:
        return hash(type(self).__name__)
