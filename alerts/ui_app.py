"""The FastAPI app behind the SLA-misses view (imported on first request: FastAPI and the Airflow API).

Route parameters use module-level names, which FastAPI needs to resolve the (postponed) annotations.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from alerts.misses import list_misses, miss_dag_ids
from alerts.outbox import Outbox
from alerts.ui import WINDOWS, render_page

CurrentUser = Annotated[Any, Depends(get_user)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def _user_name(user: Any) -> str:
    name = getattr(user, "get_name", None)
    return str((name() if callable(name) else None) or getattr(user, "username", None) or "unknown")


def misses_json(
    dag_id: str | None = None, since: float | None = None, until: float | None = None, limit: Limit = 200
) -> dict[str, Any]:
    """SLA misses as JSON."""
    items = list_misses(Outbox(), dag_id=dag_id or None, since=since, until=until, limit=limit)
    return {"misses": items, "total": len(items)}


async def acknowledge(incident_id: int, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Mark one miss acknowledged (JSON requests only, which a cross-site form cannot send)."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(status_code=415, detail="send Content-Type: application/json")
    outbox = Outbox()
    if outbox.incident(incident_id) is None:
        raise HTTPException(status_code=404, detail=f"no incident {incident_id}")
    who = _user_name(user)
    done = outbox.acknowledge(incident_id, who)
    from portfolio.pipeline_logger import get_logger

    get_logger("alerts").log_event("sla_miss_acknowledged", incident_id=incident_id, by=who, changed=done)
    return {"id": incident_id, "acknowledged": True, "changed": done}


def page(dag_id: str | None = None, window: str = "7d") -> HTMLResponse:
    """The HTML view."""
    outbox = Outbox()
    window = window if window in WINDOWS else "7d"
    seconds = WINDOWS[window]
    since = time.time() - seconds if seconds else None
    items = list_misses(outbox, dag_id=dag_id or None, since=since)
    return HTMLResponse(render_page(items, miss_dag_ids(outbox), dag_id, window))


def runbook() -> HTMLResponse:
    """docs/slas.md as HTML (anchors match the runbook links in alerts)."""
    from markdown_it import MarkdownIt

    from portfolio.paths import REPO_ROOT

    text = (REPO_ROOT / "docs" / "slas.md").read_text(encoding="utf-8")
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'><title>SLA runbook</title></head>"
        "<body style='font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto'>"
        f"{rendered}</body></html>"
    )


def create_app() -> FastAPI:
    """The app; ``get_user`` guards every route (401 without a valid Airflow token or UI cookie)."""
    app = FastAPI(
        title="Portfolio Maximizer SLA misses",
        dependencies=[Depends(get_user)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_api_route("/api/misses", misses_json, methods=["GET"])
    app.add_api_route("/api/misses/{incident_id}/acknowledge", acknowledge, methods=["POST"])
    app.add_api_route("/ui", page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/runbook", runbook, methods=["GET"], response_class=HTMLResponse)
    return app
