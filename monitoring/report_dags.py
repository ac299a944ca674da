"""DAG statistics of the performance report, from Airflow's REST API or from the listener's JSON events.

Both sources are normalised to the same run and task records, so one function computes the statistics:
runs per DAG by state, success rate (success / (success + failed)), run duration p50/p95, the slowest
tasks and the most recent failures (retries, delays and cost: :mod:`monitoring.report_dag_costs`).
A task record is one try from the events (``task_up_for_retry`` then ``task_success``), the latest try
from the API; ``queued_at`` is the API's ``queued_at`` / ``queued_when``, or a run event's ``queued_at`` (task
events carry none);
``cpu_s`` is the listener's (the API has none: :func:`monitoring.report_dag_costs.join_cpu` adds it).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

RUN_COLUMNS = ("dag_id", "run_id", "state", "run_type", "queued_at", "start_date", "end_date", "duration_s")
TASK_COLUMNS = ("dag_id", "run_id", "task_id", "map_index", "try_number", "state", "queued_at", "start_date",
                "end_date", "duration_s", "cpu_s")
FINISHED = ("success", "failed")
PAGE = 100
MAX_ROWS = 20_000  # per collection; a month of every DAG of the project is far below this


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolation percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _event_state(record: dict[str, Any], prefix: str) -> str | None:
    state = record.get("state")
    if state:
        return str(state).lower()
    suffix = str(record.get("event", ""))[len(prefix):]
    return {"success": "success", "succeeded": "success", "failed": "failed", "failure": "failed",
            "running": "running", "skipped": "skipped"}.get(suffix)


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def from_events(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Runs and task instances from the listener's ``dag_run_*`` / ``task_*`` events (the last one wins)."""
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    tasks: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in events:
        event, dag_id, run_id = str(e.get("event", "")), e.get("dag_id"), e.get("run_id")
        if not dag_id or not run_id:
            continue
        if event.startswith("dag_run_"):
            state = _event_state(e, "dag_run_")
            if state:
                runs[(dag_id, run_id)] = {"dag_id": dag_id, "run_id": run_id, "state": state,
                                          "run_type": e.get("run_type"), "queued_at": e.get("queued_at"),
                                          "start_date": e.get("start_date"),
                                          "end_date": e.get("end_date") or e.get("ts"),
                                          "duration_s": _float(e.get("duration_s"))}
        elif event.startswith("task_") and e.get("task_id"):
            state = _event_state(e, "task_")
            if state:
                key = (dag_id, run_id, e["task_id"], e.get("map_index", -1), e.get("try_number"))
                tasks[key] = {"dag_id": dag_id, "run_id": run_id, "task_id": e["task_id"],
                              "map_index": e.get("map_index", -1), "try_number": e.get("try_number"),
                              "state": state, "queued_at": e.get("queued_at"), "start_date": e.get("start_date"),
                              "end_date": e.get("end_date") or (e.get("ts") if state != "running" else None),
                              "duration_s": _float(e.get("duration_s")), "cpu_s": _float(e.get("cpu_s")),
                              "error": e.get("error")}
    return list(runs.values()), list(tasks.values())


def _pages(api: Any, path: str, key: str, params: dict[str, Any],
           ident: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every row of an offset-paginated listing, de-duplicated on ``ident`` (rows shift when runs arrive)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    offset = 0
    while offset < MAX_ROWS:
        page = api.request("GET", path, params={**params, "limit": PAGE, "offset": offset})
        rows = page.get(key) or []
        for row in rows:
            out.setdefault(tuple(row.get(k) for k in ident), row)
        offset += len(rows)
        if len(rows) < PAGE:
            break
    return list(out.values())


def seconds_between(start: Any, end: Any) -> float | None:
    """``end - start`` in seconds for two ISO-8601 texts; None when either is missing or unreadable."""
    if not start or not end:
        return None
    try:
        return (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds()
    except (TypeError, ValueError):  # unreadable, or one aware and one naive
        return None


def from_api(api: Any, since: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Runs (``run_after >= since``) and task instances (``start_date >= since``) of every DAG."""
    runs = [{"dag_id": r["dag_id"], "run_id": r["dag_run_id"], "state": r.get("state"),
             "run_type": r.get("run_type"), "queued_at": r.get("queued_at"), "start_date": r.get("start_date"),
             "end_date": r.get("end_date"),
             "duration_s": _float(r.get("duration")) if r.get("duration") is not None
             else seconds_between(r.get("start_date"), r.get("end_date"))}
            for r in _pages(api, "/dags/~/dagRuns", "dag_runs",
                            {"run_after_gte": since, "order_by": "-run_after"}, ("dag_id", "dag_run_id"))]
    tasks = [{"dag_id": t["dag_id"], "run_id": t["dag_run_id"], "task_id": t["task_id"],
              "map_index": t.get("map_index", -1), "try_number": t.get("try_number"), "state": t.get("state"),
              "queued_at": t.get("queued_when"), "start_date": t.get("start_date"), "end_date": t.get("end_date"),
              "duration_s": _float(t.get("duration")), "cpu_s": None, "error": None}
             for t in _pages(api, "/dags/~/dagRuns/~/taskInstances", "task_instances",
                             {"start_date_gte": since, "order_by": "-start_date"},
                             ("dag_id", "dag_run_id", "task_id", "map_index"))]
    return runs, tasks


def _durations(rows: list[dict[str, Any]]) -> dict[str, Any]:
    values = [r["duration_s"] for r in rows if r["state"] in FINISHED and r["duration_s"] is not None]
    return {"duration_p50_s": percentile(values, 50), "duration_p95_s": percentile(values, 95),
            "duration_max_s": max(values) if values else None}


def statistics(runs: list[dict[str, Any]], tasks: list[dict[str, Any]], *, top: int = 10) -> dict[str, Any]:
    """Per-DAG run statistics, per-task durations, the slowest tasks and the newest failures."""
    per_dag: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        per_dag[r["dag_id"]].append(r)
    dags = {}
    for dag_id, rows in sorted(per_dag.items()):
        states = Counter(str(r["state"]) for r in rows)
        finished = states["success"] + states["failed"]
        newest = max(rows, key=lambda r: str(r["end_date"] or r["start_date"] or ""))
        dags[dag_id] = {"runs": len(rows), "by_state": dict(sorted(states.items())), "finished": finished,
                        "success_rate": states["success"] / finished if finished else None,
                        **_durations(rows), "last_state": newest["state"],
                        "last_run": newest["end_date"] or newest["start_date"]}
    per_task: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for t in tasks:
        per_task[(t["dag_id"], t["task_id"])].append(t)
    task_stats = [{"dag_id": d, "task_id": k, "instances": len(rows),
                   "failed": sum(r["state"] == "failed" for r in rows), **_durations(rows)}
                  for (d, k), rows in sorted(per_task.items())]
    slowest = sorted((t for t in task_stats if t["duration_p95_s"] is not None),
                     key=lambda t: -t["duration_p95_s"])[:top]
    failed = ([{"kind": "dag_run", **{c: r.get(c) for c in RUN_COLUMNS}}
               for r in runs if r["state"] == "failed"]
              + [{"kind": "task", **{c: t.get(c) for c in TASK_COLUMNS}, "error": t.get("error")}
                 for t in tasks if t["state"] == "failed"])
    failures = sorted(failed, key=lambda f: str(f.get("end_date") or f.get("start_date") or ""),
                      reverse=True)[:2 * top]
    finished = sum(d["finished"] for d in dags.values())
    ok = sum(d["by_state"].get("success", 0) for d in dags.values())
    return {"runs": len(runs), "task_instances": len(tasks),
            "success_rate": ok / finished if finished else None, "dags": dags,
            "tasks": task_stats, "slowest_tasks": slowest, "failures": failures}
