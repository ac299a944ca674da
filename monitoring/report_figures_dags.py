"""Plotly figures of the report's DAG and SLA sections: runs, durations, Gantt, schedule delay, cost, SLAs."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from monitoring.report_plot import STATE_COLOURS, date_axis, to_datetime

if TYPE_CHECKING:
    import plotly.graph_objects as go

LAYOUT = {"height": 380, "template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 100}}


def _grouped(x: list[str], series: list[tuple[str, list[Any]]], title: str, ytitle: str,
             barmode: str = "group") -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(name=name, x=x, y=y) for name, y in series])
    fig.update_layout(barmode=barmode, title=title, yaxis_title=ytitle, **LAYOUT)
    return fig


def gantt_figure(gantt: dict[str, Any]) -> go.Figure:
    """One horizontal bar per task try of the run, from its start to its end, coloured by state."""
    import plotly.graph_objects as go

    bars = gantt["bars"]
    labels = [b["task"] if b["try_number"] <= 1 else f"{b['task']} (try {b['try_number']})" for b in bars]
    starts = [to_datetime(b["start"]) for b in bars]
    traces = []
    for state in sorted({str(b["state"]) for b in bars}):
        idx = [i for i, b in enumerate(bars) if str(b["state"]) == state]
        traces.append(go.Bar(name=state, orientation="h", y=[labels[i] for i in idx],
                             base=[starts[i] for i in idx],
                             x=[1000 * (bars[i]["duration_s"] or 0.0) for i in idx],  # ms on a date axis
                             marker={"color": STATE_COLOURS.get(state, "#7f7f7f")},
                             customdata=[bars[i]["duration_s"] for i in idx],
                             hovertemplate="%{y}<br>%{base|%H:%M:%S} + %{customdata:.1f}s<extra></extra>"))
    fig = go.Figure(traces)
    ends = [to_datetime(b["end"]) for b in bars]
    date_axis(fig, starts + ends, min_span=timedelta(minutes=1))
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=list(dict.fromkeys(labels)))
    fig.update_layout(title=f"{gantt['dag_id']} {gantt['run_id']}: tasks over time", barmode="overlay",
                      height=max(320, 26 * len(set(labels)) + 140), template="plotly_white",
                      margin={"l": 220, "r": 20, "t": 50, "b": 50})
    return fig


def sla_lateness_figure(misses: list[dict[str, Any]]) -> go.Figure:
    """One marker per SLA miss: its deadline against how late the run was (minutes), one trace per DAG."""
    import plotly.graph_objects as go

    traces = []
    for dag_id in sorted({m["dag_id"] for m in misses}):
        rows = [m for m in misses if m["dag_id"] == dag_id and m["late_seconds"] is not None]
        traces.append(go.Scatter(x=[to_datetime(m["deadline"] or m["detected_at"]) for m in rows],
                                 y=[m["late_seconds"] / 60 for m in rows], mode="markers", name=dag_id,
                                 marker={"size": 10}, text=[m["sla"] for m in rows]))
    fig = go.Figure(traces)
    date_axis(fig, [x for t in traces for x in t.x])
    fig.update_layout(title="SLA misses: how late (minutes past the deadline)", yaxis_title="minutes late", **LAYOUT)
    fig.update_yaxes(rangemode="tozero")
    return fig


def dag_figures(report: dict[str, Any]) -> dict[str, go.Figure]:
    """The DAG and SLA figures the data supports."""
    import plotly.graph_objects as go

    figs: dict[str, go.Figure] = {}
    dags, costs = report["dags"]["dags"], report["dags"].get("costs") or {}
    if dags:
        states = sorted({s for d in dags.values() for s in d["by_state"]})
        names = list(dags)
        fig = go.Figure([go.Bar(name=s, x=names, y=[dags[n]["by_state"].get(s, 0) for n in names],
                                marker={"color": STATE_COLOURS.get(s, "#7f7f7f")}) for s in states])
        fig.update_layout(barmode="stack", title="DAG runs by state", yaxis_title="runs", **LAYOUT)
        figs["dag_runs"] = fig
        timed = {k: v for k, v in dags.items() if v["duration_p50_s"] is not None}
        if timed:
            figs["dag_durations"] = _grouped(list(timed), [(q, [v[f"duration_{q}_s"] for v in timed.values()])
                                                           for q in ("p50", "p95")], "DAG run duration", "seconds")
    gantt = report["dags"].get("gantt") or {}
    if gantt.get("bars"):
        figs["gantt"] = gantt_figure(gantt)
    delayed = {k: v["task_delay"] for k, v in costs.items() if v["task_delay"]["count"]}
    if delayed:
        figs["schedule_delay"] = _grouped(list(delayed), [(f"task {q}", [v[f"{q}_s"] for v in delayed.values()])
                                                          for q in ("p50", "p95")],
                                          "Schedule delay (queued to start) of task instances", "seconds")
    if any(v["task_seconds"] or v["cpu_seconds"] for v in costs.values()):
        figs["dag_cost"] = _grouped(list(costs), [("task-seconds", [v["task_seconds"] for v in costs.values()]),
                                                  ("CPU-seconds", [v["cpu_seconds"] or 0.0 for v in costs.values()])],
                                    "Cost per DAG in the period", "seconds")
    slas = report.get("slas") or {}
    if any(m["late_seconds"] is not None for m in slas.get("misses", [])):
        figs["sla_lateness"] = sla_lateness_figure(slas["misses"])
    budgets = [b for b in slas.get("budgets", []) if b["budget_remaining"] is not None]
    if budgets:
        remaining = [100 * b["budget_remaining"] for b in budgets]
        fig = go.Figure(go.Bar(x=[b["sla"] for b in budgets], y=remaining,
                               marker={"color": ["#2ca02c" if r > 25 else "#e6a700" if r > 0 else "#d62728"
                                                 for r in remaining]}))
        fig.add_hline(y=0, line={"color": "#333", "width": 1})
        fig.update_layout(title="Error budget remaining per SLA (%)", yaxis_title="% of the budget", **LAYOUT)
        figs["error_budget"] = fig
    return figs
