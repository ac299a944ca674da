"""Text and JSON renderings of parity results and of the cutover status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from local_stack.cutover.crontab import Crontab
from local_stack.cutover.mapping import JOB_TO_DAG
from local_stack.cutover.parity import DIFFERS, EQUAL, EXPECTED, NOT_MAPPABLE, Comparison, JobParity, ZoneChoice
from local_stack.cutover.state import AIRFLOW_ONLY, CutoverState

SIDE = {"cron": "cron only", "dag": "DAG only "}


def _utc(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%MZ")


def _worst(comparisons: list[Comparison]) -> str:
    results = {c.result for c in comparisons}
    if not comparisons:
        return "-"
    return DIFFERS if DIFFERS in results else EXPECTED if EXPECTED in results else EQUAL


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def parity_text(results: list[JobParity], zone: ZoneChoice, start: datetime, count: int, window_hours: float,
                max_differences: int = 6) -> str:
    """The parity table, then the differing instants of each comparison (at most ``max_differences`` each)."""
    windows = list(dict.fromkeys(c.label for r in results for c in sorted(r.comparisons[1:], key=lambda c: c.start)))
    lines = [f"cron zone for lines without CRON_TZ=/TZ=: {zone.name} ({zone.source})",
             f"compared: the next {count} fire times from {_utc(start)}, and every fire time within "
             f"{window_hours:g} h of: " + ("; ".join(windows) if windows else "(no DST change in the zones involved)"),
             ""]
    rows = [["job", "DAG", "cron schedule (zone)", "DAG schedule", f"next {count}", "DST windows", "result"]]
    for r in results:
        rows.append([r.job, r.dag_id or "-", "; ".join(r.cron_schedules), r.dag_schedule or "-",
                     r.comparisons[0].result if r.comparisons else "-", _worst(r.comparisons[1:]),
                     r.result.upper() if r.result in (DIFFERS, NOT_MAPPABLE) else r.result])
    lines += _table(rows)
    for r in results:
        if r.problem:
            lines.append(f"\n{r.job}: {r.problem}")
        for c in r.comparisons:
            if not c.differences:
                continue
            lines.append(f"\n{r.job} ({c.label}): cron {len(c.cron)} runs, DAG {len(c.dag)} runs, "
                         f"{len(c.differences)} differing instants")
            for d in c.differences[:max_differences]:
                flag = "expected" if d.expected else "UNEXPECTED"
                lines.append(f"  {_utc(d.at)} {SIDE[d.side]}  [{flag}] {d.reason}")
            if len(c.differences) > max_differences:
                lines.append(f"  ... {len(c.differences) - max_differences} more (--json lists every one)")
    counts = {k: sum(1 for r in results if r.result == k) for k in (EQUAL, EXPECTED, DIFFERS, NOT_MAPPABLE)}
    lines.append(f"\n{len(results)} jobs: {counts[EQUAL]} equal, {counts[EXPECTED]} with expected DST differences, "
                 f"{counts[DIFFERS]} differing, {counts[NOT_MAPPABLE]} not mappable")
    return "\n".join(lines)


def parity_json(results: list[JobParity], zone: ZoneChoice, start: datetime, count: int,
                window_hours: float) -> dict[str, Any]:
    """Everything the text shows, with every fire time and every difference."""
    return {
        "cron_zone": {"name": zone.name, "source": zone.source},
        "start": _utc(start), "count": count, "window_hours": window_hours,
        "jobs": [{
            "job": r.job, "dag_id": r.dag_id, "cron": r.cron_schedules, "dag": r.dag_schedule, "result": r.result,
            "problem": r.problem,
            "comparisons": [{
                "label": c.label, "start": _utc(c.start), "end": _utc(c.end), "result": c.result,
                "cron": [_utc(t) for t in c.cron], "dag": [_utc(t) for t in c.dag],
                "differences": [{"at": _utc(d.at), "side": d.side, "reason": d.reason, "expected": d.expected}
                                for d in c.differences],
            } for c in r.comparisons],
        } for r in results],
    }


def _crontab_view(crontab: Crontab | None, job: str) -> str:
    if crontab is None:
        return "-"
    entries = crontab.entries_of(job)
    if not entries:
        return "no line"
    return ", ".join(f"line {e.line_no} {'active' if e.active else 'migrated'}" for e in entries)


def _consistent(status: str, view: str) -> bool:
    if view in ("-", "no line"):
        return True
    migrated, active = "migrated" in view, "active" in view
    return (status == AIRFLOW_ONLY and migrated and not active) or (status != AIRFLOW_ONLY and active)


def status_rows(state: CutoverState, crontab: Crontab | None) -> list[dict[str, Any]]:
    """Per job: DAG, status, last change, and what the crontab (when given) says."""
    rows = []
    for job, dag_id in JOB_TO_DAG.items():
        record = state.jobs.get(job, {})
        view = _crontab_view(crontab, job)
        status = state.status(job)
        rows.append({"job": job, "dag_id": dag_id, "status": status, "updated_at": record.get("updated_at"),
                     "crontab": view, "consistent": _consistent(status, view)})
    return rows


def status_text(rows: list[dict[str, Any]], state: CutoverState) -> str:
    """The status table; rows whose crontab disagrees with the state are flagged."""
    table = [["job", "DAG", "status", "since", "crontab"]]
    for row in rows:
        flag = "" if row["consistent"] else "  <- the crontab disagrees with the state"
        table.append([row["job"], row["dag_id"], row["status"], row["updated_at"] or "-", row["crontab"] + flag])
    return f"state: {state.path}\n" + "\n".join(_table(table))
