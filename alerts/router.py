"""The single entry point for incidents: :func:`submit` writes them durably; the outbox worker delivers them.

Channel selection (:func:`route`) happens in the worker, so the submitting process (a deadline callback in
the triggerer, a listener hook in a task runner) only does one small SQLite transaction and can die right
after it without losing the incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from alerts.incident import Incident
from foundation.failures import report_failure

if TYPE_CHECKING:
    from alerts.alerting_config import AlertingConfig


def submit(incident: Incident) -> None:
    """Write ``incident`` to the durable outbox (idempotent on kind + dedup_key); never raises."""
    try:
        from alerts.outbox import Outbox

        incident_id, created = Outbox().add_incident(incident)
    except Exception as exc:
        report_failure("alerts", "submit", exc, level="error", kind=incident.kind, dedup_key=incident.dedup_key,
                       dag_id=incident.dag_id)
        return
    submit_effects(incident, incident_id, created)


def submit_effects(incident: Incident, incident_id: int, created: bool) -> None:
    """The JSON event and metrics that follow a stored incident; never raises."""
    try:
        from foundation.pipeline_logger import get_logger

        get_logger("alerts").log_event(
            "alert_submitted",
            kind=incident.kind,
            dedup_key=incident.dedup_key,
            severity=incident.severity,
            dag_id=incident.dag_id,
            run_id=incident.run_id,
            incident_id=incident_id,
            duplicate=not created,
            sla=incident.sla,
            deadline=incident.deadline,
        )
        if incident.kind == "sla_miss" and created:
            from foundation.metrics import get_client

            get_client().incr(
                "sla.miss",
                tags={
                    "dag_id": incident.dag_id,
                    "sla": incident.sla,
                    "severity": incident.severity,
                },
            )
    except Exception as exc:
        report_failure("alerts", "submit_event", exc, level="error", kind=incident.kind, dedup_key=incident.dedup_key,
                       dag_id=incident.dag_id)


def route(incident: Incident, config: AlertingConfig) -> list[tuple[str, str]]:
    """The ``(channel, action)`` pairs an incident goes to, from its severity and the routing config.

    An SLA SLO can name its own channels (:attr:`Incident.channels`); otherwise the severity's route applies.
    Resolutions (``sla_recovered``, ``error_threshold_resolved``) go where the incident they close went:
    :func:`resolution_targets`.
    """
    wanted = incident.channels or config.routing.get(incident.severity, [])
    out: list[tuple[str, str]] = []
    for name in wanted:
        channel = config.channels.get(name)
        if channel is None or not channel.enabled:
            continue
        action = "trigger" if channel.type == "pagerduty" else "notify"
        out.append((name, action))
    return out


def resolution_targets(closed: Sequence[tuple[int, str]], config: AlertingConfig) -> list[tuple[str, str, int]]:
    """``(channel, action, depends_on)`` for a resolution: every channel its original incident reached.

    ``closed`` holds ``(delivery id, channel)`` of the original's trigger/notify deliveries (the incident of kind
    ``RESOLVES[incident.kind]`` with the same dedup key, :meth:`alerts.outbox.Outbox.plan_deliveries`); PagerDuty
    gets a ``resolve`` event (same dedup key: it closes the page), the other channels a resolved message. Each
    depends on the original's delivery to that channel, so a resolve never overtakes its trigger. Nothing when
    the original was never stored (there is nothing to close).
    """
    out = []
    for delivery_id, channel in closed:
        spec = config.channels.get(channel)
        if spec is not None:
            out.append((channel, "resolve" if spec.type == "pagerduty" else "notify", delivery_id))
    return out
