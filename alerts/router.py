"""The single entry point for incidents: :func:`submit` writes them durably; the outbox worker delivers them.

Channel selection (:func:`route`) happens in the worker, so the submitting process (a deadline callback in
the triggerer, a listener hook in a task runner) only does one small SQLite transaction and can die right
after it without losing the incident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.incident import Incident

if TYPE_CHECKING:
    from alerts.alerting_config import AlertingConfig


def _count_failure(reason: str, incident: Incident | None, exc: BaseException) -> None:
    """Self-metric plus JSON event for a failed submission; never raises."""
    try:
        from portfolio.metrics import get_client

        get_client().incr("observability.failure", tags={"component": "alerts", "reason": reason})
    except Exception:
        pass
    try:
        from portfolio.pipeline_logger import get_logger

        get_logger("alerts").error(
            "alert_submit_failed",
            reason=reason,
            error=f"{type(exc).__name__}: {exc}"[:500],
            kind=getattr(incident, "kind", None),
            dedup_key=getattr(incident, "dedup_key", None),
            dag_id=getattr(incident, "dag_id", None),
        )
    except Exception:
        pass


def submit(incident: Incident) -> None:
    """Write ``incident`` to the durable outbox (idempotent on kind + dedup_key); never raises."""
    try:
        from alerts.outbox import Outbox

        incident_id, created = Outbox().add_incident(incident)
    except Exception as exc:
        _count_failure("submit", incident, exc)
        return
    submit_effects(incident, incident_id, created)


def submit_effects(incident: Incident, incident_id: int, created: bool) -> None:
    """The JSON event and metrics that follow a stored incident; never raises."""
    try:
        from portfolio.pipeline_logger import get_logger

        get_logger("alerts").log_event(
            "alert_submitted",
            kind=incident.kind,
            dedup_key=incident.dedup_key,
            severity=incident.severity,
            dag_id=incident.dag_id,
            run_id=incident.run_id,
            incident_id=incident_id,
            duplicate=not created,
            sla=incident.details.get("sla"),
            deadline=incident.details.get("deadline"),
        )
        if incident.kind == "sla_miss" and created:
            from portfolio.metrics import get_client

            get_client().incr(
                "sla.miss",
                tags={
                    "dag_id": incident.dag_id,
                    "sla": incident.details.get("sla"),
                    "severity": incident.severity,
                },
            )
    except Exception as exc:
        _count_failure("submit_event", incident, exc)


def route(incident: Incident, config: AlertingConfig) -> list[tuple[str, str]]:
    """The ``(channel, action)`` pairs an incident goes to, from its severity and the routing config.

    An SLA SLO can name its own channels (``details["channels"]``); otherwise the severity's route applies.
    Recoveries are routed by the worker to the channels the miss reached (see ``alerts.outbox_worker``).
    """
    wanted = incident.details.get("channels") or config.routing.get(incident.severity, [])
    out: list[tuple[str, str]] = []
    for name in wanted:
        channel = config.channels.get(name)
        if channel is None or not channel.enabled:
            continue
        action = "trigger" if channel.type == "pagerduty" else "notify"
        out.append((name, action))
    return out
