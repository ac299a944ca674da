"""Project when a running DAG run will finish, from the task durations of its recent successful runs.

Pure functions (no I/O). Each task of the run is placed on the DAG's graph:

* finished        -> it ended when it ended;
* running         -> it ends at ``start + usual duration``, or now when it is already past that (it is late,
  and every second it keeps running pushes the projection further);
* not started yet -> it starts when its last upstream ends plus its usual start delay (scheduling and queue
  wait, measured the same way in the history), never before now, nor before its pool has room: a full pool
  with tasks queued delays it by (queued / slots) times its usual duration; then it runs its usual duration.

The projected finish is the latest task end; the critical path is the chain of tasks that set it. A task with
no history counts as instantaneous: with no history at all the projection is "now", so a run still going when
its deadline comes within the warning margin is warned about anyway.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from alerts.run_facts import PoolUse, RunFact, TaskFact


@dataclass(frozen=True)
class Typical:
    """A task's usual duration and start delay (seconds, medians over the history runs it ran in)."""

    duration: float
    delay: float
    runs: int


@dataclass(frozen=True)
class TaskProjection:
    """Where one task stands in the projection."""

    task_id: str
    status: str  # "done", "running" or "waiting"
    end: datetime
    start: datetime | None = None
    usual: float | None = None  # seconds (None: no history)
    elapsed: float | None = None  # seconds run so far (done: its duration)
    try_number: int = 1
    pool: str = "default_pool"

    @property
    def overrun(self) -> float:
        """Seconds longer than usual so far (0 without history or when not longer)."""
        if self.usual is None or self.elapsed is None:
            return 0.0
        return max(0.0, self.elapsed - self.usual)


@dataclass(frozen=True)
class Projection:
    """The projected finish of one run, its critical path (first to last task) and every task's place."""

    finish: datetime
    critical_path: tuple[str, ...]
    tasks: dict[str, TaskProjection]
    history_runs: int


def _groups(tasks: Iterable[TaskFact]) -> dict[str, list[TaskFact]]:
    out: dict[str, list[TaskFact]] = defaultdict(list)
    for ti in tasks:
        out[ti.task_id].append(ti)
    return out


def _span(tis: Sequence[TaskFact]) -> tuple[datetime | None, datetime | None]:
    starts = [t.start for t in tis if t.start is not None]
    ends = [t.end for t in tis if t.end is not None]
    return (min(starts) if starts else None), (max(ends) if ends else None)


def topological(task_ids: Iterable[str], upstream: dict[str, list[str]]) -> list[str]:
    """``task_ids`` ordered so that every task comes after its upstream tasks (unknown upstreams ignored)."""
    ids = sorted(set(task_ids))
    known = set(ids)
    done: set[str] = set()
    order: list[str] = []

    def visit(task_id: str, path: frozenset[str]) -> None:
        if task_id in done or task_id in path:
            return
        for up in upstream.get(task_id, ()):
            if up in known:
                visit(up, path | {task_id})
        done.add(task_id)
        order.append(task_id)

    for task_id in ids:
        visit(task_id, frozenset())
    return order


def typical_tasks(history: Sequence[RunFact], upstream: dict[str, list[str]]) -> dict[str, Typical]:
    """Per task id: median duration and start delay over the successful runs it ran in."""
    durations: dict[str, list[float]] = defaultdict(list)
    delays: dict[str, list[float]] = defaultdict(list)
    for run in history:
        groups = _groups(run.tasks)
        ends = {task_id: _span(tis)[1] for task_id, tis in groups.items()}
        for task_id, tis in groups.items():
            start, end = _span(tis)
            if start is None or end is None:
                continue
            durations[task_id].append(max(0.0, (end - start).total_seconds()))
            ready = [e for u in upstream.get(task_id, ()) if (e := ends.get(u)) is not None]
            anchor = max(ready) if ready else (run.start or run.queued_at)
            if anchor is not None:
                delays[task_id].append(max(0.0, (start - anchor).total_seconds()))
    return {
        task_id: Typical(median(values), median(delays[task_id]) if delays[task_id] else 0.0, len(values))
        for task_id, values in durations.items()
    }


def typical_run_seconds(history: Sequence[RunFact]) -> float:
    """Median start-to-end seconds of the history runs (0 without history)."""
    spans = [(r.end - r.start).total_seconds() for r in history if r.start and r.end]
    return median(spans) if spans else 0.0


def pool_wait(pool: str, usual: float, pools: dict[str, PoolUse]) -> float:
    """Seconds a task of ``pool`` waits for a slot now: the queue ahead of it in slot-turns of its usual duration
    (0 unless the pool is full with tasks waiting)."""
    use = pools.get(pool)
    if use is None or not use.saturated or use.total == float("inf"):
        return 0.0
    return use.queued / max(use.total, 1.0) * usual


def project(run: RunFact, upstream: dict[str, list[str]], typical: dict[str, Typical], now: datetime,
            history_runs: int = 0, pools: dict[str, PoolUse] | None = None) -> Projection:
    """The projected finish of ``run`` at ``now`` (``pools``: slots in use now, for tasks still to start)."""
    groups = _groups(run.tasks)
    run_anchor = run.start or run.queued_at or now
    placed: dict[str, TaskProjection] = {}
    for task_id in topological(set(groups) | set(upstream), upstream):
        tis = groups.get(task_id, [])
        usual = typical.get(task_id)
        duration = timedelta(seconds=usual.duration if usual else 0.0)
        start, end = _span(tis)
        tries = max((t.try_number for t in tis), default=1)
        pool = tis[0].pool if tis else "default_pool"
        if tis and all(t.finished for t in tis):
            status, finish = "done", end or now
            elapsed = (finish - start).total_seconds() if start else None
        elif start is not None:
            status, finish, elapsed = "running", max(now, start + duration), (now - start).total_seconds()
        else:
            ups = [placed[u] for u in upstream.get(task_id, ()) if u in placed]
            ready = max([run_anchor, *(u.end for u in ups)])
            queue = pool_wait(pool, usual.duration if usual else 0.0, pools or {})
            begins = max(ready + timedelta(seconds=usual.delay if usual else 0.0), now + timedelta(seconds=queue))
            status, finish, elapsed = "waiting", begins + duration, None
        placed[task_id] = TaskProjection(task_id, status, finish, start, usual.duration if usual else None,
                                         elapsed, tries, pool)
    if not placed:
        return Projection(max(now, run_anchor), (), {}, history_runs)
    last_task = max(placed.values(), key=lambda p: (p.end, p.task_id))
    path = _critical_path(last_task.task_id, placed, upstream)
    return Projection(max(last_task.end, now), tuple(reversed(path)), placed, history_runs)


def _critical_path(last: str, placed: dict[str, TaskProjection], upstream: dict[str, list[str]]) -> list[str]:
    """From the last task back to a root, through the upstream task that ended last each time."""
    path = [last]
    while True:
        ups = [placed[u] for u in upstream.get(path[-1], ()) if u in placed and u not in path]
        if not ups:
            return path
        path.append(max(ups, key=lambda p: p.end).task_id)
