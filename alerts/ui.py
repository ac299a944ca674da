"""The SLA-misses view in the Airflow UI: a FastAPI app (``fastapi_apps``) and nav entry (``external_views``).

Every route needs an Airflow login (``Authorization: Bearer`` or the UI's cookie; 401 without one) with read
access to DAGs (403 without it); the list holds only misses of DAGs the user may read, and acknowledging needs
edit access to the miss's DAG (:mod:`alerts.ui_access`). Mounted at ``/pmx-sla``:

* ``GET  /pmx-sla/ui``                         - the HTML table (filters: DAG, time window), under Browse
* ``GET  /pmx-sla/api/misses``                 - the same as JSON (``dag_id``, ``since``/``until``: unix s)
* ``POST /pmx-sla/api/misses/{id}/acknowledge`` - mark a miss acknowledged (JSON request)
* ``GET  /pmx-sla/runbook``                    - docs/slas.md rendered (runbook links in alerts point here)
* ``GET  /pmx-sla/runbook/alerts``             - docs/runbook.md rendered (the Prometheus alerts' runbook links)

The FastAPI app is built on first request, so loading the plugin in a task process stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alerts.ui_page import URL_PREFIX

if TYPE_CHECKING:
    from fastapi import FastAPI



class LazyAsgiApp:
    """An ASGI app that builds the real one on first use."""

    def __init__(self, factory: Any) -> None:
        self._factory = factory
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = self._factory()
        await self._app(scope, receive, send)


def create_app() -> FastAPI:
    """Build the FastAPI app (:mod:`alerts.ui_app`); every route requires an authorized Airflow user."""
    from alerts.ui_app import create_app as build

    return build()


fastapi_app = LazyAsgiApp(create_app)
fastapi_apps = [{"app": fastapi_app, "url_prefix": URL_PREFIX, "name": "pmx-sla-misses"}]
external_views = [
    {
        "name": "SLA Misses",
        "href": f"{URL_PREFIX}/ui",
        "destination": "nav",
        "category": "browse",
        "url_route": "sla-misses",
    }
]
