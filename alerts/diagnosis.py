"""Why a run is late: one text (the same in Slack, PagerDuty, the SLA-misses view and the report) and its facts.

Pure functions (no I/O). The causes, in the order a reader needs them:

* the task on the critical path that took longest beyond its usual duration (how much longer than usual);
* a task waiting for a full pool (slots taken, tasks queued);
* the run's own queue wait (queued -> started) against its run time;
* retries (a task on its second or later try);
* a late start: a scheduled run queued well after its slot, or the asset event (upstream DAG run) that
  triggered it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.projection import Projection, TaskProjection
from alerts.run_facts import PoolUse, RunFact
from alerts.times import format_duration, iso_z

NOTABLE_OVERRUN = 0.5  # a task is "slow" when it runs at least 50% (and 1 s) longer than usual
LATE_START_SECONDS = 60.0  # a scheduled run queued later than this after its slot started late


@dataclass(frozen=True)
class Diagnosis:
    """The text and the facts behind it (JSON-serializable)."""

    text: str
    facts: dict[str, Any] = field(default_factory=dict)


def _seconds(value: float) -> str:
    return format_duration(round(value, 1)) if value >= 1 else f"{value:.1f}s"


def slowest(projection: Projection) -> TaskProjection | None:
    """The critical-path task furthest beyond its usual duration (None when none is notably slow)."""
    candidates = [projection.tasks[t] for t in projection.critical_path if t in projection.tasks]
    worst = max(candidates, key=lambda p: p.overrun, default=None)
    if worst is None or worst.usual is None or worst.overrun < max(1.0, NOTABLE_OVERRUN * worst.usual):
        return None
    return worst


def _slow_text(task: TaskProjection) -> str:
    verb = "has been running" if task.status == "running" else "ran"
    times = f" ({task.elapsed / task.usual:.0f}x)" if task.usual and task.elapsed and task.usual >= 0.1 else ""
    return (f"task {task.task_id} on the critical path {verb} {_seconds(task.elapsed or 0.0)}, usually "
            f"{_seconds(task.usual or 0.0)}: {_seconds(task.overrun)} longer than usual{times}")


def diagnose(run: RunFact, projection: Projection, pools: dict[str, PoolUse], now: datetime) -> Diagnosis:
    """Why ``run`` is (or will be) late, at ``now``."""
    causes: list[str] = []
    facts: dict[str, Any] = {"critical_path": list(projection.critical_path),
                             "history_runs": projection.history_runs, "at": iso_z(now)}
    slow = slowest(projection)
    if slow is not None:
        causes.append(_slow_text(slow))
        facts["slowest_task"] = {"task_id": slow.task_id, "seconds": round(slow.elapsed or 0.0, 1),
                                 "usual_seconds": round(slow.usual or 0.0, 1), "status": slow.status}
    waiting = {p.pool for p in projection.tasks.values() if p.status == "waiting"}
    full = sorted(name for name in waiting if name in pools and pools[name].saturated)
    for name in full:
        use = pools[name]
        total = "unlimited" if use.total == float("inf") else f"{use.total:g}"
        causes.append(f"pool {name} is full ({use.running} running of {total} slots, {use.queued} queued)")
    facts["saturated_pools"] = full
    queued = (run.start - run.queued_at).total_seconds() if run.start and run.queued_at else None
    if run.start is None and run.queued_at is not None:
        queued = (now - run.queued_at).total_seconds()
        causes.append(f"the run has been queued {_seconds(queued)} and has not started")
    running = ((run.end or now) - run.start).total_seconds() if run.start else 0.0
    facts.update(queue_wait_seconds=None if queued is None else round(queued, 1), run_seconds=round(running, 1))
    retried = sorted({f"{p.task_id} (try {p.try_number})" for p in projection.tasks.values() if p.try_number > 1})
    if retried:
        causes.append("retried: " + ", ".join(retried))
    facts["retries"] = retried
    late_start = None
    if run.run_type == "scheduled" and run.logical_date and run.queued_at:
        late_start = (run.queued_at - run.logical_date).total_seconds()
        if late_start > LATE_START_SECONDS:
            causes.append(f"the run was queued {_seconds(late_start)} after its scheduled time")
    facts["late_start_seconds"] = None if late_start is None else round(late_start, 1)
    for event in run.triggered_by:
        causes.append(f"triggered by asset {event.asset} at {iso_z(event.timestamp)}"
                      + (f" from {event.source_dag_id} run {event.source_run_id}" if event.source_dag_id else ""))
    facts["triggered_by"] = [e.asset for e in run.triggered_by]
    if projection.history_runs == 0:
        causes.append("no successful run to compare with yet")
    timing = f"queued {_seconds(queued or 0.0)}, running {_seconds(running)}" if run.start else ""
    head = "; ".join(causes) if causes else "no task is slower than usual"
    path = " -> ".join(projection.critical_path)
    text = f"{head[0].upper()}{head[1:]}." + (f" Run: {timing}." if timing else "") + (
        f" Critical path: {path}." if path else "")
    return Diagnosis(text, facts)
