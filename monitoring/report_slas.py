"""SLA section of the performance report: misses and how late, early warnings, the error budget per SLA.

Reads the alert outbox (:meth:`alerts.outbox.Outbox.incidents_since`): ``sla_miss`` incidents (lateness: the
recorded ``late_seconds`` once the run finished, else ``now - deadline`` while it is still late) and
``sla_warning`` incidents (same dedup key as the miss they warn of; ``details``: ``sla``, ``deadline``,
``projected_finish``, ``diagnosis``). A miss or a warning shows its ``details["diagnosis"]`` when it has one.

Error budget of an SLA with an ``objective``: over its ``error_window`` (cut to the report's period: the runs
the report has), ``1 - (misses / finished runs of its DAG) / (1 - objective)``; 1 is untouched, 0 spent,
below 0 overspent; None with neither a miss nor a finished run. As in the Prometheus rule
``pmx:sla_error_budget_remaining:ratio`` the error ratio is capped at 1 and misses without a finished run count
against one run (a run still going at its deadline is a miss before it is a finished run).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitoring.report_dags import FINISHED

if TYPE_CHECKING:
    from alerts.outbox import Outbox
    from alerts.sla_config import SlaSpec

MISS, WARNING = "sla_miss", "sla_warning"
Records = list[dict[str, Any]]


def epoch(text: Any) -> float | None:
    """Unix seconds of an ISO-8601 text (naive means UTC); None when missing or unreadable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _miss(row: dict[str, Any], now: float) -> dict[str, Any]:
    deadline = row.get("deadline_at") or row["details"].get("deadline")
    late, still_late = row.get("late_seconds"), False
    if late is None and row.get("resolved_at") is None and (due := epoch(deadline)) is not None:
        late, still_late = now - due, True
    return {"id": row["id"], "dag_id": row["dag_id"], "run_id": row["run_id"], "sla": row["sla"],
            "severity": row["severity"], "deadline": deadline, "detected_at": row["created_at"],
            "submitted_at": row["submitted_at"], "late_seconds": None if late is None else round(float(late), 1),
            "still_late": still_late, "diagnosis": row["details"].get("diagnosis"), "dedup_key": row["dedup_key"]}


def _warning(row: dict[str, Any], missed: set[str]) -> dict[str, Any]:
    d = row["details"]
    return {"id": row["id"], "dag_id": row["dag_id"], "run_id": row["run_id"], "sla": row["sla"] or d.get("sla"),
            "deadline": d.get("deadline") or row.get("deadline_at"), "projected_finish": d.get("projected_finish"),
            "detected_at": row["created_at"], "diagnosis": d.get("diagnosis"),
            "then_missed": row["dedup_key"] in missed}


def _per_dag(misses: Records, warnings: Records) -> dict[str, dict[str, Any]]:
    late: dict[str, list[float]] = defaultdict(list)
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"misses": 0, "warnings": 0, "warned_misses": 0})
    for m in misses:
        out[m["dag_id"]]["misses"] += 1
        if m["late_seconds"] is not None:
            late[m["dag_id"]].append(m["late_seconds"])
    for w in warnings:
        out[w["dag_id"]]["warnings"] += 1
        out[w["dag_id"]]["warned_misses"] += w["then_missed"]
    for dag_id, entry in out.items():
        values = late.get(dag_id, [])
        entry["max_late_s"] = max(values) if values else None
        entry["mean_late_s"] = sum(values) / len(values) if values else None
    return dict(sorted(out.items()))


def error_budgets(specs: list[SlaSpec], misses: Records, runs: Records, *, now: float,
                  since: float) -> list[dict[str, Any]]:
    """Budget remaining of every SLA with an objective, over its window cut to ``since``."""
    out = []
    for spec in specs:
        if spec.objective is None:
            continue
        start = max(now - spec.error_window.total_seconds(), since)
        missed = sum(1 for m in misses if m["sla"] == spec.name and m["submitted_at"] >= start)
        finished = sum(1 for r in runs if r["dag_id"] == spec.dag_id and r["state"] in FINISHED
                       and (end := epoch(r.get("end_date") or r.get("start_date"))) is not None and end >= start)
        ratio = min(1.0, missed / max(finished, 1)) if missed or finished else None  # as pmx:sla_error_ratio
        spent = None if ratio is None else ratio / (1 - spec.objective)
        out.append({"sla": spec.name, "dag_id": spec.dag_id, "objective": spec.objective,
                    "error_window_days": spec.error_window / timedelta(days=1),
                    "window_days": round((now - start) / 86_400, 3), "misses": missed, "finished_runs": finished,
                    "budget_spent": spent, "budget_remaining": None if spent is None else 1 - spent})
    return out


def sla_section(runs: Records, *, now: datetime, since: datetime, outbox: Outbox | None = None,
                specs: list[SlaSpec] | None = None) -> dict[str, Any]:
    """Misses, warnings, per-DAG summary and error budgets of the period; a ``note`` when there is no outbox."""
    from alerts.outbox import Outbox

    box = outbox or Outbox()
    notes = []
    if specs is None:
        try:
            from alerts.sla_config import load_slas

            specs = load_slas()
        except Exception as exc:  # a broken SLA file: the misses still show, the budgets do not
            notes.append(f"SLA config unreadable ({type(exc).__name__}: {str(exc)[:200]}): no error budgets")
            specs = []
    t_now, t_since = now.timestamp(), since.timestamp()
    if box.path is not None and not Path(box.path).exists():
        rows_miss, rows_warn = [], []
        notes.append(f"no alert outbox yet ({box.describe()})")
    else:
        rows_miss = box.incidents_since(MISS, t_since, until=t_now)
        rows_warn = box.incidents_since(WARNING, t_since, until=t_now)
    misses = [_miss(r, t_now) for r in rows_miss]
    keys = {m["dedup_key"] for m in misses}
    warnings = [_warning(r, keys) for r in rows_warn]
    return {"misses": misses[::-1], "warnings": warnings[::-1], "by_dag": _per_dag(misses, warnings),
            "budgets": error_budgets(specs, misses, runs, now=t_now, since=t_since), "notes": notes,
            "source": box.describe()}
