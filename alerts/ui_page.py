"""The HTML of the SLA-misses view: the table of misses, filters and the acknowledge button."""

from __future__ import annotations

import html
from typing import Any

from alerts.times import format_duration

URL_PREFIX = "/pmx-sla"
WINDOWS = {"24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "all": None}


def _why(miss: dict[str, Any]) -> str:
    """The diagnosis, and how long before the deadline the early warning came (if one did)."""
    text = html.escape(miss.get("diagnosis") or "no diagnosis")
    lead = miss.get("warned_seconds_before_deadline")
    if lead is not None:
        text += f'<br><span class="tz">early warning {format_duration(float(lead))} before the deadline</span>'
    return text


def _fmt_late(seconds: float | None, ongoing: bool) -> str:
    if seconds is None:
        return "-"
    return format_duration(seconds) + (" (still late)" if ongoing else "")


def _when(m: dict[str, Any], key: str, fallback: str = "") -> str:
    """A time in UTC and, below it, in the SLA's timezone (escaped HTML)."""
    utc = m.get(key)
    if not utc:
        return html.escape(fallback)
    shown = html.escape(str(utc)[:19].replace("T", " ") + " UTC")
    local = (m.get("local") or {}).get(key)
    return shown + (f'<br><span class="tz">{html.escape(local)}</span>' if local else "")


def _delivery(d: dict[str, Any]) -> str:
    status = d["status"]
    label = "not configured" if status == "not_configured" else status
    return (
        f'<span class="d {html.escape(status)}" title="{html.escape(d.get("last_error") or "")}">'
        f"{html.escape(d['channel'])}:{html.escape(label)}</span>"
    )


def render_page(
    misses: list[dict[str, Any]],
    dag_ids: list[str],
    dag_id: str | None,
    window: str,
    *,
    editable: set[str] | None = None,
    edit_freshness: bool = True,
    tz: Any = None,
) -> str:
    """The HTML of the view (self-contained; no external assets).

    ``editable``: DAG ids whose misses the user may acknowledge (``None``: all); ``edit_freshness``: whether
    they may acknowledge freshness misses (asset edit access). ``tz``: the schedules' timezone, named in the
    header; each time is shown in UTC and in its SLA's timezone.
    """
    esc = html.escape
    options = "".join(
        f'<option value="{esc(d)}"{" selected" if d == dag_id else ""}>{esc(d)}</option>' for d in dag_ids
    )
    windows = "".join(
        f'<option value="{w}"{" selected" if w == window else ""}>{w}</option>' for w in WINDOWS
    )
    rows = []
    for m in misses:
        delivered = " ".join(_delivery(d) for d in m["deliveries"] + m["recovery_deliveries"]) or "not routed"
        freshness = m.get("kind") == "freshness_miss"
        if m["acknowledged_at"]:
            ack = f"{_when(m, 'acknowledged_at')}<br>by {esc(m['acknowledged_by'] or '')}"
        elif edit_freshness if freshness else (editable is None or m["dag_id"] in editable):
            ack = f'<button onclick="ack({int(m["id"])})">Acknowledge</button>'
        else:
            needs = "assets" if freshness else "this DAG"
            ack = f'<span class="tz" title="needs edit access to {needs}">not acknowledged</span>'
        if freshness:  # data, not a run: the asset in place of the run, no run state
            dag_cell, run_cell, pending = "data freshness", f'asset {esc(m.get("asset") or "?")}', "still stale"
        else:
            run_link = esc(m["links"].get("run", "#"))
            dag_cell = esc(m["dag_id"] or "")
            run_cell = f'<a href="{run_link}" target="_top">{esc(m["run_id"] or "")}</a>'
            pending = "run " + (m["run_state"] or "running")
        cells = [
            _when(m, "detected_at"),
            dag_cell,
            run_cell,
            esc(m["sla"] or ""),
            esc(m["severity"]),
            _when(m, "deadline", "-"),
            esc(_fmt_late(m["late_seconds"], m["still_late"])),
            _why(m),
            delivered,
            ack,
            _when(m, "resolved_at", pending),
        ]
        rows.append(f'<tr class="{esc(m["severity"])}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    body = "".join(rows) or '<tr><td colspan="11">No SLA misses in this window.</td></tr>'
    zone = f'<p class="tz">Times in UTC and in the SLA\'s timezone ({esc(str(tz))}).</p>' if tz else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>SLA misses</title><style>
body{{font-family:system-ui,sans-serif;margin:1rem;font-size:14px}}table{{border-collapse:collapse;width:100%}}
th,td{{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}}
tr.critical td:nth-child(5){{color:#b00;font-weight:bold}}tr.error td:nth-child(5){{color:#c50}}
.d{{display:inline-block;border-radius:3px;padding:0 4px;margin:1px;background:#eee}}
.d.delivered{{background:#cfc}}.d.dead_letter{{background:#fcc}}.d.pending,.d.sending{{background:#ffc}}
.d.not_configured{{background:#eee;color:#666}}.tz{{color:#666}}
</style></head><body><h2>SLA misses</h2>{zone}
<form method="get">DAG <select name="dag_id"><option value="">all</option>{options}</select>
 window <select name="window">{windows}</select> <button>Filter</button></form>
<table id="misses"><thead><tr><th>Detected</th><th>DAG</th><th>Run</th><th>SLA</th><th>Severity</th>
<th>Deadline</th><th>Late by</th><th>Why</th><th>Delivered</th><th>Acknowledged</th><th>Resolved</th></tr></thead>
<tbody>{body}</tbody></table>
<script>function ack(id){{fetch("{URL_PREFIX}/api/misses/"+id+"/acknowledge",{{method:"POST",
headers:{{"Content-Type":"application/json"}},body:"{{}}",credentials:"same-origin"}}).then(()=>location.reload());}}
</script></body></html>"""
