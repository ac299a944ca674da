"""The listener's crossed error thresholds, as incidents for the alert router (the add-on's one joint).

``listeners`` and ``alerts`` do not import each other: the composition root gives the listener
:func:`route_error_alert` when alerting is on, and the threshold alerts reach the durable outbox through it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alerts.incident import Incident
    from listeners.error_monitor import Alert

INCIDENT_KIND = "error_threshold"
RESOLVED_KIND = "error_threshold_resolved"


def to_incident(alert: Alert) -> Incident:
    """The :class:`alerts.incident.Incident` of an alert (firing, or the resolution of a firing)."""
    from alerts.incident import Incident

    skip = ("summary", "dedup_key", "dag_id", "run_id")
    details = {k: v for k, v in alert.as_dict().items() if k not in skip}
    kind = INCIDENT_KIND if alert.status == "firing" else RESOLVED_KIND
    return Incident(kind=kind, dedup_key=alert.dedup_key, severity=alert.severity,  # type: ignore[arg-type]
                    summary=alert.summary, details=details, dag_id=alert.dag_id, run_id=alert.run_id,
                    created_at=datetime.fromtimestamp(alert.fired_at, UTC))


def route_error_alert(alert: Alert) -> None:
    """Write the alert's incident to the outbox (:func:`alerts.router.submit`, which never raises)."""
    from alerts.router import submit

    submit(to_incident(alert))
