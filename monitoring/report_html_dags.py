"""The report's DAG and SLA sections in HTML: statistics, retries, delay, cost, the master run's Gantt, SLAs."""

from __future__ import annotations

from html import escape
from typing import Any

from monitoring.report_html_parts import NO_DATA, Plots, fmt, table


def _costs(costs: dict[str, Any], plot: Plots) -> str:
    parts = ["<h3>Retries, schedule delay and cost per DAG</h3>",
             '<p class="meta">schedule delay: queued to start (a task\'s: REST API only, the listener\'s task events '
             "carry no queued time); task-seconds: sum of task durations; CPU-seconds: sum of the listener's cpu_s "
             "(user + system CPU of each task process and its children, resource.getrusage at the task's end)"
             "</p>"]
    parts.append(table(
        ["DAG", "task instances", "retried", "extra tries", "run delay p50", "task delay p50", "task delay p95",
         "task-seconds", "CPU-seconds", "CPU measured"],
        [[k, v["task_instances"], v["retried_tasks"], v["retries"], v["run_delay"]["p50_s"],
          v["task_delay"]["p50_s"], v["task_delay"]["p95_s"], v["task_seconds"], v["cpu_seconds"],
          f'{v["cpu_measured"]} of {v["task_records"]}'] for k, v in costs.items()],
        ["", "", "", "", "s", "s", "s", "s", "s", ""]))
    parts.append(plot("schedule_delay") + plot("dag_cost"))
    return "".join(parts)


def _gantt(gantt: dict[str, Any] | None, plot: Plots) -> str:
    head = '<h3 id="gantt">Latest master run</h3>'
    if not gantt or not gantt.get("bars"):
        return head + f'<p class="empty">no task of a {escape(str((gantt or {}).get("dag_id", "master")))} run yet</p>'
    return (head + f'<p class="meta">{escape(str(gantt["dag_id"]))} {escape(str(gantt["run_id"]))}: '
            f'{len(gantt["bars"])} task tries, state {escape(str(gantt.get("state") or "running"))}</p>'
            + plot("gantt"))


def dags_section(d: dict[str, Any], source: dict[str, Any], plot: Plots) -> str:
    """Per-DAG statistics, retries/delay/cost, the master run's Gantt, slowest tasks and recent failures."""
    note = f' ({escape(source["note"])})' if source.get("note") else ""
    parts = ["<h2>DAG statistics</h2>", f'<p class="meta">source: {escape(source["kind"])}{note}; '
             f'overall success rate {fmt(d["success_rate"], "pct")}</p>']
    parts.append(table(["DAG", "runs", "by state", "success rate", "p50", "p95", "last state", "last run"],
                       [[k, v["runs"], ", ".join(f"{s}={n}" for s, n in v["by_state"].items()),
                         v["success_rate"], v["duration_p50_s"], v["duration_p95_s"], v["last_state"],
                         v["last_run"]]
                        for k, v in d["dags"].items()], ["", "", "", "pct", "s", "s", "", ""]))
    parts.append(plot("dag_runs") + plot("dag_durations"))
    parts.append(_costs(d.get("costs") or {}, plot))
    parts.append(_gantt(d.get("gantt"), plot))
    parts.append("<h3>Slowest tasks (by p95)</h3>")
    parts.append(table(["DAG", "task", "instances", "failed", "p50", "p95", "max"],
                       [[t["dag_id"], t["task_id"], t["instances"], t["failed"], t["duration_p50_s"],
                         t["duration_p95_s"], t["duration_max_s"]] for t in d["slowest_tasks"]],
                       ["", "", "", "", "s", "s", "s"]))
    parts.append("<h3>Recent failures</h3>")
    parts.append(table(["kind", "DAG", "task", "run", "when", "error"],
                       [[f["kind"], f["dag_id"], f.get("task_id") or "", f["run_id"],
                         f.get("end_date") or f.get("start_date"), str(f.get("error") or "")[:300]]
                        for f in d["failures"]]))
    return "".join(parts)


def _late(m: dict[str, Any]) -> str:
    if m["late_seconds"] is None:
        return "-"
    text = f'{m["late_seconds"] / 60:.1f} min'
    return text + " (still running)" if m["still_late"] else text


def slas_section(s: dict[str, Any] | None, plot: Plots) -> str:
    """Misses (how late, diagnosis), early warnings, per-DAG summary and the error budget of each SLA."""
    parts = ['<h2 id="slas">SLAs</h2>']
    if not s:
        return "".join(parts) + NO_DATA
    notes = "; ".join(s.get("notes") or [])
    parts.append(f'<p class="meta">from the alert outbox {escape(str(s.get("source", "")))}'
                 f'{"; " + escape(notes) if notes else ""}</p>')
    parts.append(table(["DAG", "misses", "max late", "mean late", "early warnings", "warned, then missed"],
                       [[k, v["misses"], v["max_late_s"], v["mean_late_s"], v["warnings"], v["warned_misses"]]
                        for k, v in (s.get("by_dag") or {}).items()], ["", "", "s", "s", "", ""]))
    parts.append("<h3>Error budget</h3>")
    parts.append(table(["SLA", "DAG", "objective", "window (days)", "misses", "finished runs", "budget remaining"],
                       [[b["sla"], b["dag_id"], b["objective"], f'{b["window_days"]:g} of {b["error_window_days"]:g}',
                         b["misses"], b["finished_runs"], b["budget_remaining"]] for b in s.get("budgets") or []],
                       ["", "", "pct", "", "", "", "pct"]))
    parts.append(plot("error_budget"))
    parts.append("<h3>Misses</h3>")
    parts.append(table(["DAG", "run", "SLA", "deadline", "late by", "diagnosis"],
                       [[m["dag_id"], m["run_id"], m["sla"], m["deadline"], _late(m), m["diagnosis"] or "-"]
                        for m in s.get("misses") or []]))
    parts.append(plot("sla_lateness"))
    parts.append("<h3>Early warnings</h3>")
    parts.append(table(["DAG", "run", "SLA", "deadline", "projected finish", "then missed", "diagnosis"],
                       [[w["dag_id"], w["run_id"], w["sla"], w["deadline"], w["projected_finish"],
                         "yes" if w["then_missed"] else "no", w["diagnosis"] or "-"]
                        for w in s.get("warnings") or []]))
    return "".join(parts)
