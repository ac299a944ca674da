"""The add-on's Airflow plugin, registered through the ``airflow.plugins`` entry point of the package.

Airflow loads it in every process (scheduler, dag-processor, triggerer, api-server, each task runner). It
registers the listener (:data:`LISTENER`) with both the core listener manager (DAG-run, import-error and
lifecycle hooks) and the task-SDK one (task-instance hooks) when the listener is on, and mounts the
SLA-misses view and the ``RunQueuedAt`` deadline reference when alerting is on (:mod:`addon.parts`).
Switches are read once, at import: ``PMX_LISTENER_ENABLED`` / ``listener.enabled`` in ``observability.yml``,
``PMX_ALERTS_ENABLED`` / ``enabled`` in ``alerting.yml``.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from addon.parts import alert_parts, listener_parts

_LISTENERS = listener_parts()
_ALERTS = alert_parts()
LISTENER: Any = _LISTENERS[0] if _LISTENERS else None  # the registered PortfolioListener (None when off)


class PortfolioObservabilityPlugin(AirflowPlugin):
    """Listener hooks (JSON events, StatsD metrics, error thresholds) and SLA deadlines/view, for any DAGs."""

    name = "portfolio_observability"
    listeners = _LISTENERS
    fastapi_apps = _ALERTS.fastapi_apps              # SLA-misses view (alerts/ui.py), behind Airflow auth
    external_views = _ALERTS.external_views
    deadline_references = _ALERTS.deadline_references  # SLA deadlines from the queued time (alerts/references.py)
