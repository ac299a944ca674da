"""Retries, schedule delay and cost per DAG, and the Gantt of the latest master run, from the run/task records.

* retries: task instances (dag, run, task, map index) whose highest ``try_number`` is above 1, and the extra
  tries they took (``max try - 1`` each);
* schedule delay: ``queued_at -> start_date`` of runs (both sources) and of task instances (REST API records
  only: a task runner's events carry no queued time), p50 / p95 / max;
* task-seconds: the sum of task durations (every try the source shows); CPU-seconds: the sum of the
  listener's ``cpu_s`` (user + system CPU of the task process and its waited-for children, from
  ``resource.getrusage`` at the task's end), with how many task records carried one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from monitoring.report_dags import percentile, seconds_between

MASTER_DAG = "portfolio_master"
Records = list[dict[str, Any]]


def _instance(t: dict[str, Any]) -> tuple[Any, ...]:
    return t["dag_id"], t["run_id"], t["task_id"], t.get("map_index", -1)


def _try(t: dict[str, Any]) -> int:
    try:
        return int(t.get("try_number") or 1)
    except (TypeError, ValueError):
        return 1


def join_cpu(tasks: Records, events: Records) -> Records:
    """API task records with the ``cpu_s`` of the listener's event for the same try (when there is one)."""
    cpu: dict[tuple[Any, ...], float] = {}
    for e in events:
        if str(e.get("event", "")).startswith("task_") and e.get("cpu_s") is not None:
            cpu[(e.get("dag_id"), e.get("run_id"), e.get("task_id"), e.get("map_index", -1), _try(e))] = e["cpu_s"]
    return [{**t, "cpu_s": cpu.get((*_instance(t), _try(t)), t.get("cpu_s"))} for t in tasks]


def _delays(rows: Records) -> dict[str, float | None]:
    values = [d for r in rows if (d := seconds_between(r.get("queued_at"), r.get("start_date"))) is not None]
    return {"p50_s": percentile(values, 50), "p95_s": percentile(values, 95),
            "max_s": max(values) if values else None, "count": len(values)}


def dag_costs(runs: Records, tasks: Records) -> dict[str, dict[str, Any]]:
    """Per DAG: retries, run and task schedule delay, task-seconds and CPU-seconds."""
    by_dag_runs: dict[str, Records] = defaultdict(list)
    by_dag_tasks: dict[str, Records] = defaultdict(list)
    for r in runs:
        by_dag_runs[r["dag_id"]].append(r)
    for t in tasks:
        by_dag_tasks[t["dag_id"]].append(t)
    out: dict[str, dict[str, Any]] = {}
    for dag_id in sorted(set(by_dag_runs) | set(by_dag_tasks)):
        rows = by_dag_tasks.get(dag_id, [])
        tries: dict[tuple[Any, ...], int] = {}
        for t in rows:
            tries[_instance(t)] = max(tries.get(_instance(t), 0), _try(t))
        cpu = [float(t["cpu_s"]) for t in rows if t.get("cpu_s") is not None]
        out[dag_id] = {"task_instances": len(tries), "retried_tasks": sum(n > 1 for n in tries.values()),
                       "retries": sum(n - 1 for n in tries.values()),
                       "run_delay": _delays(by_dag_runs.get(dag_id, [])), "task_delay": _delays(rows),
                       "task_seconds": sum(float(t["duration_s"]) for t in rows if t.get("duration_s") is not None),
                       "cpu_seconds": sum(cpu) if cpu else None, "cpu_measured": len(cpu), "task_records": len(rows)}
    return out


def gantt(runs: Records, tasks: Records, dag_id: str = MASTER_DAG, *, now: str | None = None) -> dict[str, Any]:
    """The task bars (every try) of ``dag_id``'s latest run: started last, by run start else first task start.

    A task with no end yet (the report task of the run being reported) ends at ``now``.
    """
    starts: dict[str, str] = {}
    for r in runs:
        if r["dag_id"] == dag_id and r.get("start_date"):
            starts[r["run_id"]] = str(r["start_date"])
    first_task: dict[str, str] = {}
    for t in tasks:
        if t["dag_id"] == dag_id and t.get("start_date"):
            first_task[t["run_id"]] = min(first_task.get(t["run_id"], "~"), str(t["start_date"]))
    starts = {**first_task, **starts}
    known = {r["run_id"] for r in runs if r["dag_id"] == dag_id} | {t["run_id"] for t in tasks if t["dag_id"] == dag_id}
    if not known:
        return {"dag_id": dag_id, "run_id": None, "bars": []}
    run_id = max(known, key=lambda k: starts.get(k, ""))
    bars = []
    for t in tasks:
        if t["dag_id"] != dag_id or t["run_id"] != run_id or not t.get("start_date"):
            continue
        end = t.get("end_date") or now
        label = t["task_id"] if t.get("map_index", -1) in (-1, None) else f"{t['task_id']}[{t['map_index']}]"
        bars.append({"task": label, "try_number": _try(t), "state": t.get("state"), "start": t["start_date"],
                     "end": end, "duration_s": seconds_between(t["start_date"], end)})
    bars.sort(key=lambda b: (str(b["start"]), b["task"], b["try_number"]))
    state = next((r.get("state") for r in runs if r["dag_id"] == dag_id and r["run_id"] == run_id), None)
    return {"dag_id": dag_id, "run_id": run_id, "state": state, "start": starts.get(run_id), "bars": bars}
