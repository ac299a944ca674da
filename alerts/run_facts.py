"""What the early warning and the diagnosis know about a DAG run, and where it comes from.

The dataclasses are plain facts (tests build them by hand); :class:`AirflowRunFacts` reads them from Airflow's
metadata database through its ORM (the outbox worker runs with the stack's settings).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

FINISHED_TASK_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


def aware(value: datetime | None) -> datetime | None:
    """``value`` with UTC as its time zone when it has none (SQLite returns naive datetimes)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass(frozen=True)
class TaskFact:
    """One task instance (one map index, its latest try)."""

    task_id: str
    state: str | None
    map_index: int = -1
    try_number: int = 1
    pool: str = "default_pool"
    queued_at: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None

    @property
    def finished(self) -> bool:
        """Whether the task instance reached a final state."""
        return self.state in FINISHED_TASK_STATES


@dataclass(frozen=True)
class UpstreamEvent:
    """An asset event that triggered the run: which asset, from which DAG run, when."""

    asset: str
    source_dag_id: str | None
    source_run_id: str | None
    timestamp: datetime | None


@dataclass(frozen=True)
class RunFact:
    """One DAG run and its task instances."""

    dag_id: str
    run_id: str
    run_type: str | None
    state: str | None
    logical_date: datetime | None = None
    queued_at: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    tasks: tuple[TaskFact, ...] = ()
    triggered_by: tuple[UpstreamEvent, ...] = ()


@dataclass(frozen=True)
class PendingDeadline:
    """A deadline of a run that has not passed yet (Airflow's ``deadline`` row) and its callback kwargs."""

    dag_id: str
    run_id: str
    run_type: str | None
    deadline: datetime
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PoolUse:
    """Slots of one pool right now."""

    total: float
    running: int
    queued: int
    open: float

    @property
    def saturated(self) -> bool:
        """No open slot while tasks wait for one."""
        return self.open <= 0 and self.queued > 0


class RunFactSource(Protocol):
    """Where run facts come from (:class:`AirflowRunFacts`, or a fake in unit tests)."""

    def pending_deadlines(self, callback_path: str) -> list[PendingDeadline]:
        """Deadlines not yet missed, of runs still queued or running, whose callback is ``callback_path``."""

    def run(self, dag_id: str, run_id: str) -> RunFact | None:
        """One run with its task instances (None when it does not exist)."""

    def history(self, dag_id: str, runs: int) -> list[RunFact]:
        """The last ``runs`` successful runs of ``dag_id`` with their task instances, newest first."""

    def upstream(self, dag_id: str) -> dict[str, list[str]]:
        """task_id -> upstream task ids, from the serialized DAG (empty when unknown)."""

    def pools(self) -> dict[str, PoolUse]:
        """Pool name -> slots in use now."""


def _task(row: Any) -> TaskFact:
    return TaskFact(task_id=row.task_id, state=str(row.state) if row.state else None, map_index=row.map_index,
                    try_number=row.try_number or 1, pool=row.pool or "default_pool",
                    queued_at=aware(row.queued_dttm), start=aware(row.start_date), end=aware(row.end_date))


class AirflowRunFacts:
    """Reads run facts through Airflow's ORM."""

    def pending_deadlines(self, callback_path: str) -> list[PendingDeadline]:
        """Deadlines not yet missed of queued or running runs whose callback is ``callback_path``."""
        from airflow.models.dagrun import DagRun
        from airflow.models.deadline import Deadline
        from airflow.utils.session import create_session
        from sqlalchemy import select

        out = []
        with create_session() as session:
            rows = session.execute(
                select(Deadline, DagRun.dag_id, DagRun.run_id, DagRun.run_type)
                .join(DagRun, Deadline.dagrun_id == DagRun.id)
                .where(~Deadline.missed, DagRun.state.in_(("queued", "running")))
            ).all()
            for deadline, dag_id, run_id, run_type in rows:
                data = (deadline.callback.data if deadline.callback is not None else None) or {}
                if data.get("path") != callback_path:
                    continue
                out.append(PendingDeadline(dag_id, run_id, str(run_type) if run_type else None,
                                           aware(deadline.deadline_time) or deadline.deadline_time,
                                           dict(data.get("kwargs") or {})))
        return out

    def _runs(self, session: Any, runs: Iterable[Any]) -> list[RunFact]:
        from airflow.models.taskinstance import TaskInstance as TI
        from sqlalchemy import select

        runs = list(runs)
        if not runs:
            return []
        tis = session.execute(
            select(TI.run_id, TI.task_id, TI.state, TI.map_index, TI.try_number, TI.pool, TI.queued_dttm,
                   TI.start_date, TI.end_date)
            .where(TI.dag_id == runs[0].dag_id, TI.run_id.in_([r.run_id for r in runs]))
        ).all()
        by_run: dict[str, list[TaskFact]] = {}
        for row in tis:
            by_run.setdefault(row.run_id, []).append(_task(row))
        return [
            RunFact(dag_id=r.dag_id, run_id=r.run_id, run_type=str(r.run_type) if r.run_type else None,
                    state=str(r.state) if r.state else None, logical_date=aware(r.logical_date),
                    queued_at=aware(r.queued_at), start=aware(r.start_date), end=aware(r.end_date),
                    tasks=tuple(by_run.get(r.run_id, ())), triggered_by=_triggers(r))
            for r in runs
        ]

    def run(self, dag_id: str, run_id: str) -> RunFact | None:
        """One run with its task instances."""
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
            return self._runs(session, [run])[0] if run is not None else None

    def history(self, dag_id: str, runs: int) -> list[RunFact]:
        """The last ``runs`` successful runs of ``dag_id``, newest first."""
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.scalars(
                select(DagRun).where(DagRun.dag_id == dag_id, DagRun.state == "success")
                .order_by(DagRun.end_date.desc()).limit(runs)
            ).all()
            return self._runs(session, rows)

    def upstream(self, dag_id: str) -> dict[str, list[str]]:
        """task_id -> upstream task ids of the latest serialized version of ``dag_id``."""
        from airflow.models.serialized_dag import SerializedDagModel
        from airflow.utils.session import create_session

        with create_session() as session:
            dag = SerializedDagModel.get_dag(dag_id, session=session)
        if dag is None:
            return {}
        return {task_id: sorted(task.upstream_task_ids) for task_id, task in dag.task_dict.items()}

    def pools(self) -> dict[str, PoolUse]:
        """Pool name -> slots in use now."""
        from airflow.models.pool import Pool
        from airflow.utils.session import create_session

        with create_session() as session:
            stats = Pool.slots_stats(session=session)
        return {name: PoolUse(s["total"], s["running"], s["queued"], s["open"]) for name, s in stats.items()}


def _triggers(run: Any) -> tuple[UpstreamEvent, ...]:
    """The asset events that triggered ``run`` (asset-triggered runs only)."""
    if str(run.run_type) != "asset_triggered":
        return ()
    out = []
    for event in getattr(run, "consumed_asset_events", None) or ():
        asset = getattr(event, "asset", None)
        out.append(UpstreamEvent(asset=str(getattr(asset, "name", None) or getattr(asset, "uri", "?")),
                                 source_dag_id=event.source_dag_id, source_run_id=event.source_run_id,
                                 timestamp=aware(event.timestamp)))
    return tuple(out)
