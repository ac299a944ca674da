"""What each channel receives: Slack text + blocks, PagerDuty event fields, email subject and body.

Pure functions (no I/O). Every message carries the severity, the links and the dedup key; nothing else from
environment (secrets stay in Connections and never reach an incident). Every text of the incident is masked
first (:func:`masked`: Airflow's maskers, registered secrets, ``password=...`` pairs, secret-looking keys in
``details``), so a secret that slipped into a summary or a detail never reaches a channel.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

from alerts.incident import RESOLVES, Incident
from foundation.scrub import scrub, scrub_data

SLACK_EMOJI = {
    "critical": ":rotating_light:",
    "error": ":red_circle:",
    "warning": ":warning:",
    "info": ":information_source:",
}
RESOLVED_TAGS = {"sla_recovered": "RECOVERED", "freshness_recovered": "RECOVERED", "sla_warning_cleared": "CLEARED"}
LINK_TEXT = {"run": "DAG run", "runbook": "Runbook", "sla_misses": "SLA misses"}


def masked(incident: Incident) -> Incident:
    """A copy of ``incident`` whose summary, ids, details and links are masked (the original is untouched)."""
    return dataclasses.replace(
        incident, summary=scrub(incident.summary), details=scrub_data(incident.details),
        dag_id=None if incident.dag_id is None else scrub(incident.dag_id),
        run_id=None if incident.run_id is None else scrub(incident.run_id),
        links={k: scrub(v) for k, v in incident.links.items() if isinstance(v, str)})


def headline(incident: Incident) -> str:
    """One-line title: ``[CRITICAL] summary``, ``[RECOVERED] summary`` (SLA, freshness) or ``[RESOLVED] summary``."""
    if incident.kind in RESOLVES:
        tag = RESOLVED_TAGS.get(incident.kind, "RESOLVED")
    elif incident.kind == "sla_warning":
        tag = "EARLY WARNING"
    else:
        tag = incident.severity.upper()
    return f"[{tag}] {incident.summary}"


def _link_list(incident: Incident) -> list[tuple[str, str]]:
    return [(LINK_TEXT.get(k, k.replace("_", " ").title()), v) for k, v in incident.links.items() if v]


def slack_message(incident: Incident, delivery_key: str) -> dict[str, Any]:
    """Arguments of ``chat.postMessage`` / the webhook body (``text`` fallback, ``blocks``, ``metadata``)."""
    incident = masked(incident)
    emoji = ":white_check_mark:" if incident.kind in RESOLVES else SLACK_EMOJI[incident.severity]
    text = f"{emoji} {headline(incident)}"
    fields = [
        f"*Severity*\n{incident.severity}",
        f"*DAG*\n{incident.dag_id or '-'}",
        f"*Run*\n{incident.run_id or '-'}",
    ]
    if incident.details.get("deadline"):
        fields.append(f"*Deadline*\n{incident.details['deadline']}")
    if incident.details.get("projected_finish"):
        fields.append(f"*Projected finish*\n{incident.details['projected_finish']}")
    if incident.details.get("late_seconds") is not None:
        fields.append(f"*Late by*\n{incident.details.get('late_text')}")
    if incident.details.get("warned_at"):
        fields.append(f"*Early warning*\n{incident.details['warned_at']}")
    links = " | ".join(f"<{url}|{label}>" for label, url in _link_list(incident))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f[:1900]} for f in fields]},
    ]
    if incident.details.get("diagnosis"):
        why = f"*Why*\n{incident.details['diagnosis']}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": why[:2900]}})
    if links:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": links[:2900]}})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"dedup_key `{incident.dedup_key}` · {incident.kind}"}],
        }
    )
    return {
        "text": text[:3000],
        "blocks": blocks,
        "metadata": {
            "event_type": "pmx_alert",
            "event_payload": {
                "delivery_key": delivery_key,
                "dedup_key": incident.dedup_key,
                "kind": incident.kind,
            },
        },
    }


def pagerduty_event(incident: Incident, action: str, source: str) -> dict[str, Any]:
    """Keyword arguments for the PagerDuty provider's ``prepare_event_data``."""
    incident = masked(incident)
    details = {k: v for k, v in incident.details.items() if k != "channels"}
    details.update({"dag_id": incident.dag_id, "run_id": incident.run_id, "kind": incident.kind})
    return {
        "summary": headline(incident)[:1024],
        "severity": incident.severity,
        "source": source,
        "custom_details": details,
        "component": incident.dag_id,
        "group": "portfolio-maximizer",
        "class_type": incident.kind,
        "action": action,
        "dedup_key": incident.dedup_key,
        "links": [{"href": url, "text": label} for label, url in _link_list(incident)],
    }


def email_message(incident: Incident) -> tuple[str, str]:
    """(subject, HTML body)."""
    incident = masked(incident)
    rows = "".join(
        f"<tr><th align=left>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in [
            ("severity", incident.severity),
            ("dag_id", incident.dag_id),
            ("run_id", incident.run_id),
            ("dedup_key", incident.dedup_key),
            *incident.details.items(),
        ]
    )
    links = "".join(
        f'<li><a href="{html.escape(url)}">{html.escape(label)}</a></li>'
        for label, url in _link_list(incident)
    )
    body = f"<p>{html.escape(incident.summary)}</p><table>{rows}</table><ul>{links}</ul>"
    return headline(incident)[:250], body
