"""The Airflow plugin of the project, registered through the ``airflow.plugins`` entry point of the package.

Airflow loads it in every process (scheduler, dag-processor, triggerer, api-server, each task runner) and
registers :data:`LISTENER` with both the core listener manager (DAG-run, import-error and lifecycle hooks)
and the task-SDK one (task-instance hooks). With ``PMX_LISTENER_ENABLED=false`` (or ``listener.enabled:
false`` in ``config/observability.yml``) no listener is registered at all.

The SLA part of the add-on (``alerts/``) rides on the same plugin: its UI view and its deadline reference.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from alerts.references import RunQueuedAt
from alerts.ui import external_views as sla_external_views
from alerts.ui import fastapi_apps as sla_fastapi_apps
from listeners.config import listener_enabled
from listeners.hooks import PortfolioListener

LISTENER = PortfolioListener()


class PortfolioObservabilityPlugin(AirflowPlugin):
    """Listener hooks (JSON events, StatsD metrics, error_monitor thresholds) for the whole DAG set."""

    name = "portfolio_observability"
    listeners = [LISTENER] if listener_enabled() else []
    fastapi_apps = sla_fastapi_apps          # SLA-misses view (alerts/ui.py), behind Airflow auth
    external_views = sla_external_views
    deadline_references = [RunQueuedAt]     # SLA deadlines relative to the queued time (alerts/references.py)
