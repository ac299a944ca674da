"""Watch late runs until they finish (auto-resolve) and running tasks against their soft budgets.

The outbox worker calls these every few seconds. Run and task state come from Airflow's metadata database
(:class:`AirflowRuns`); tests pass any object with the same two methods.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from alerts.incident import Incident, utc_now
from alerts.sla_details import SlaRecoveryDetails
from alerts.times import format_duration, iso_z

if TYPE_CHECKING:
    from alerts.outbox import Outbox
    from alerts.sla_config import TaskBudget

OPEN_HORIZON_SECONDS = 7 * 86400  # a miss older than this is no longer watched for recovery


class RunSource(Protocol):
    """Where run and task state come from."""

    def run_states(
        self, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str | None, datetime | None]]:
        """(dag_id, run_id) -> (state, end_date) for the runs that exist."""

    def running_tasks(self, dag_ids: Iterable[str], started_before: datetime) -> list[dict[str, Any]]:
        """Running task instances of ``dag_ids`` that started before ``started_before``."""


class AirflowRuns:
    """Reads DagRun / TaskInstance rows through Airflow's ORM (the worker runs with the stack's settings)."""

    def run_states(
        self, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str | None, datetime | None]]:
        """(dag_id, run_id) -> (state, end_date)."""
        if not keys:
            return {}
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        wanted = set(keys)
        with create_session() as session:
            rows = session.execute(
                select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.end_date).where(
                    DagRun.dag_id.in_({d for d, _ in keys}), DagRun.run_id.in_({r for _, r in keys})
                )
            ).all()
        return {(r[0], r[1]): (str(r[2]) if r[2] else None, r[3]) for r in rows if (r[0], r[1]) in wanted}

    def running_tasks(self, dag_ids: Iterable[str], started_before: datetime) -> list[dict[str, Any]]:
        """Running task instances that started before ``started_before``."""
        from airflow.models.taskinstance import TaskInstance as TI
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.execute(
                select(TI.dag_id, TI.task_id, TI.run_id, TI.map_index, TI.try_number, TI.start_date).where(
                    TI.dag_id.in_(set(dag_ids)), TI.state == "running", TI.start_date < started_before
                )
            ).all()
        return [
            dict(dag_id=r[0], task_id=r[1], run_id=r[2], map_index=r[3], try_number=r[4], start_date=r[5])
            for r in rows
        ]


def _metrics() -> Any:
    from foundation.metrics import get_client

    return get_client()


def recovered_incident(miss: Incident, end: datetime, deadline: datetime | None) -> Incident:
    """The ``sla_recovered`` incident of a late run that finished successfully (same dedup key)."""
    late = (end - deadline).total_seconds() if deadline else 0.0
    sla = miss.sla
    details: SlaRecoveryDetails = {
        "sla": sla,
        "deadline": miss.deadline,
        "finished_at": iso_z(end),
        "late_seconds": round(late, 3),
        "late_text": format_duration(late),
        "missed_at": iso_z(miss.created_at),
    }
    summary = (
        f"SLA {sla} recovered: {miss.dag_id} run {miss.run_id} finished {format_duration(late)} late"
        f" (deadline {details['deadline']}, finished {details['finished_at']})"
    )
    return Incident(
        kind="sla_recovered",
        dedup_key=miss.dedup_key,
        severity=miss.severity,
        summary=summary,
        details=dict(details),
        dag_id=miss.dag_id,
        run_id=miss.run_id,
        links=dict(miss.links),
        created_at=utc_now(),
    )


def check_recoveries(outbox: Outbox, runs: RunSource, now: float | None = None) -> int:
    """Resolve open SLA misses whose run has since succeeded; return how many were resolved."""
    now = now or time.time()
    rows = outbox.open_misses(now - OPEN_HORIZON_SECONDS)
    if not rows:
        return 0
    states = runs.run_states([(r["dag_id"], r["run_id"]) for r in rows])
    resolved = 0
    for row in rows:
        state, end = states.get((row["dag_id"], row["run_id"]), ("missing", None))
        if state == "success" and end is not None:
            miss = Incident.from_json(row["payload"])
            end = end if end.tzinfo else end.replace(tzinfo=UTC)
            deadline_text = miss.deadline
            deadline = datetime.fromisoformat(deadline_text.replace("Z", "+00:00")) if deadline_text else None
            recovery = recovered_incident(miss, end, deadline)
            late_seconds = float(recovery.details["late_seconds"])
            recovery_id = outbox.resolve_miss(row["id"], recovery, late_seconds)
            if recovery_id is not None:
                resolved += 1
                tags = {"dag_id": miss.dag_id, "sla": miss.sla}
                _metrics().incr("sla.resolved", tags=tags)
                _metrics().gauge("sla.lateness", late_seconds, tags=tags)
                from alerts.router import submit_effects

                submit_effects(recovery, recovery_id, True)
        elif state != row["run_state"]:
            outbox.set_run_state(row["id"], state)
    return resolved


def check_task_budgets(
    budgets: Iterable[TaskBudget],
    runs: RunSource,
    ui_base: str,
    runbook_base: str,
    now: datetime | None = None,
) -> int:
    """Submit a ``task_budget`` incident per task over its soft budget (idempotent); return the count."""
    from alerts.router import submit

    budgets = list(budgets)
    if not budgets:
        return 0
    now = now or utc_now()
    shortest = min(b.budget for b in budgets)
    tasks = runs.running_tasks({b.dag_id for b in budgets}, now - shortest)
    count = 0
    for ti in tasks:
        start = ti["start_date"] if ti["start_date"].tzinfo else ti["start_date"].replace(tzinfo=UTC)
        for budget in budgets:
            if budget.dag_id != ti["dag_id"] or not fnmatch.fnmatchcase(ti["task_id"], budget.task_id):
                continue
            running = now - start
            if running <= budget.budget:
                continue
            key = "pmx-task-budget/" + "/".join(
                str(ti[k]) for k in ("dag_id", "task_id", "run_id", "map_index", "try_number")
            )
            submit(
                Incident(
                    kind="task_budget",
                    dedup_key=key,
                    severity=budget.severity,
                    dag_id=ti["dag_id"],
                    run_id=ti["run_id"],
                    summary=(
                        f"Task {ti['dag_id']}.{ti['task_id']} (map {ti['map_index']}) running for "
                        f"{format_duration(running.total_seconds())}, "
                        f"over its {format_duration(budget.budget.total_seconds())} budget"
                    ),
                    details={
                        "task_id": ti["task_id"],
                        "map_index": ti["map_index"],
                        "try_number": ti["try_number"],
                        "started_at": iso_z(start),
                        "budget_seconds": budget.budget.total_seconds(),
                    },
                    links={
                        "run": f"{ui_base}/dags/{ti['dag_id']}/runs/{ti['run_id']}",
                        "runbook": f"{runbook_base}#task-budgets",
                    },
                )
            )
            count += 1
            break
    return count


def lateness_of_open_misses(outbox: Outbox, now: float | None = None) -> list[tuple[str, str, float]]:
    """(dag_id, sla, seconds past the deadline) for every unresolved miss (for the lateness gauge)."""
    now_dt = datetime.fromtimestamp(now or time.time(), UTC)
    out = []
    for dag_id, sla, deadline_at in outbox.open_miss_deadlines():
        deadline = datetime.fromisoformat(deadline_at.replace("Z", "+00:00"))
        if now_dt - deadline < timedelta(seconds=OPEN_HORIZON_SECONDS):
            out.append((dag_id, sla, (now_dt - deadline).total_seconds()))
    return out
