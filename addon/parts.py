"""Which plugin parts are on, and the objects each contributes (imported only when switched on)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AlertParts:
    """What the SLA part adds to the plugin: the SLA-misses view and the deadline reference."""

    fastapi_apps: list[dict[str, Any]] = field(default_factory=list)
    external_views: list[dict[str, Any]] = field(default_factory=list)
    deadline_references: list[type] = field(default_factory=list)


def listener_parts() -> list[Any]:
    """``[PortfolioListener()]`` when the listener is on (``PMX_LISTENER_ENABLED``, ``observability.yml``).

    With alerting on, its crossed error thresholds are routed to the outbox (:mod:`addon.routing`).
    """
    from alerts.switch import alerts_enabled
    from listeners.config import listener_enabled

    if not listener_enabled():
        return []
    from addon.routing import route_error_alert
    from listeners.hooks import PortfolioListener

    return [PortfolioListener(route_alert=route_error_alert if alerts_enabled() else None)]


def alert_parts() -> AlertParts:
    """The SLA view and the ``RunQueuedAt`` reference when alerting is on (``PMX_ALERTS_ENABLED``,
    ``alerting.yml``)."""
    from alerts.switch import alerts_enabled

    if not alerts_enabled():
        return AlertParts()
    from alerts.references import RunQueuedAt
    from alerts.ui import external_views, fastapi_apps

    return AlertParts(list(fastapi_apps), list(external_views), [RunQueuedAt])
