"""The DAGs' own timetables, as the scheduler sees them, and their fire times.

The DAG files are parsed with Airflow's ``DagBag`` (:mod:`local_stack.dag_folder`) and each DAG goes through
``LazyDeserializedDAG`` (what the dag-processor stores and the scheduler reads), so the timetable is the
scheduler's ``CronTriggerTimetable`` (inside ``AssetOrTimeSchedule`` for the data-aware DAGs). Fire times come
from ``next_dagrun_info``, called the way the scheduler calls it once the DAG is running: each call gets the
previous run's data interval.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local_stack.dag_folder import DAGS_DIR, DagLoadError, load_dags


@dataclass(frozen=True)
class DagSchedule:
    """One DAG's timetable (scheduler side) and what it says about itself."""

    dag_id: str
    timetable: Any           # airflow.timetables.base.Timetable
    expression: str | None   # the cron expression, when the timetable is cron-based
    zone: str | None
    start_date: datetime | None

    @property
    def description(self) -> str:
        """``expr (zone)`` or the timetable's summary."""
        if self.expression:
            return f"{self.expression} ({self.zone})"
        return str(getattr(self.timetable, "summary", type(self.timetable).__name__))


def _cron_parts(timetable: Any) -> tuple[str | None, str | None]:
    inner = getattr(timetable, "timetable", timetable)  # AssetOrTimeSchedule wraps the cron timetable
    try:
        data = inner.serialize()
    except (AttributeError, NotImplementedError):
        return None, None
    expression, zone = data.get("expression"), data.get("timezone")
    return (expression if isinstance(expression, str) else None), (zone if isinstance(zone, str) else None)


def schedule_of(dag_id: str, timetable: Any, start_date: datetime | None = None) -> DagSchedule:
    """A :class:`DagSchedule` for a scheduler-side timetable (tests build ``CronTriggerTimetable`` directly)."""
    expression, zone = _cron_parts(timetable)
    return DagSchedule(dag_id, timetable, expression, zone, start_date)


def load_schedules(dag_ids: list[str], dags_dir: Path = DAGS_DIR) -> dict[str, DagSchedule]:
    """Parse the DAG folder and return the scheduler-side timetable of each of ``dag_ids``."""
    dags = load_dags(dags_dir)
    from airflow.serialization.serialized_objects import LazyDeserializedDAG

    out: dict[str, DagSchedule] = {}
    for dag_id in dag_ids:
        dag = dags.get(dag_id)
        if dag is None:
            raise DagLoadError(f"DAG {dag_id!r} is not in {dags_dir} (found: {', '.join(sorted(dags))})")
        timetable = LazyDeserializedDAG.from_dag(dag).timetable
        out[dag_id] = schedule_of(dag_id, timetable, dag.start_date)
    return out


def dag_fires(schedule: DagSchedule, start: datetime) -> Iterator[datetime]:
    """Run times (UTC) at or after ``start``, in order, as ``next_dagrun_info`` gives them.

    The first call aligns to ``start`` (``TimeRestriction(earliest=start, catchup=True)``); every later call
    passes the previous run's data interval, like the scheduler does for a DAG that keeps up. (With
    ``catchup=False`` the scheduler also takes the latest past fire time when it fell behind; that changes
    nothing for a scheduler on time.)
    """
    import pendulum
    from airflow.timetables.base import TimeRestriction

    earliest = start.astimezone(UTC)
    if schedule.start_date is not None:
        earliest = max(earliest, schedule.start_date.astimezone(UTC))
    restriction = TimeRestriction(earliest=pendulum.instance(earliest), latest=None, catchup=True)
    last = None
    while True:
        info = schedule.timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info is None:
            return
        yield datetime.fromtimestamp(info.run_after.timestamp(), UTC)
        last = info.data_interval
