"""The FastAPI app behind the SLA-misses view (imported on first request: FastAPI and the Airflow API).

Every route needs read access to DAGs (403 without it, 401 without a login); lists hold only misses of DAGs
the user may read (and data freshness misses if they may read assets); acknowledging needs edit access to the
miss's DAG, or to assets for a freshness miss (:mod:`alerts.ui_access`).
Route parameters use module-level names, which FastAPI needs to resolve the (postponed) annotations.
"""

from __future__ import annotations

import itertools
import logging
import time
from datetime import tzinfo
from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse

from alerts.misses import list_misses, miss_dag_ids
from alerts.outbox import Outbox
from alerts.ui_access import may_read_dag, may_use_assets, permitted_dag_ids, require_dag_edit, require_dag_read
from alerts.ui_page import WINDOWS, render_page

log = logging.getLogger(__name__)
SQLITE_MAX_INT = 2**63 - 1  # the largest integer SQLite stores; a bigger id cannot exist (422, not 500)
EPOCH_MAX = 253402300799.0  # 9999-12-31T23:59:59Z

CurrentUser = Annotated[Any, Depends(get_user)]
Limit = Annotated[int, Query(ge=1, le=1000)]
IncidentId = Annotated[int, Path(ge=1, le=SQLITE_MAX_INT)]
DagIdParam = Annotated[str | None, Query(max_length=250)]
Epoch = Annotated[float | None, Query(ge=0, le=EPOCH_MAX, allow_inf_nan=False)]


def _user_name(user: Any) -> str:
    name = getattr(user, "get_name", None)
    return str((name() if callable(name) else None) or getattr(user, "username", None) or "unknown")


def sla_timezones() -> tuple[dict[str, tzinfo], tzinfo | None]:
    """Timezone per SLA name and the DAG schedules' timezone, from ``slas.yml`` (none when unreadable or unset)."""
    from zoneinfo import ZoneInfo

    try:
        from alerts.sla_config import load_sla_config

        cfg = load_sla_config()
        default = ZoneInfo(cfg.timezone) if cfg.timezone else None
        return {s.name: ZoneInfo(s.timezone) for s in cfg.slas if s.timezone}, default
    except Exception as exc:  # the view still works, in UTC only
        log.warning("SLA timezones unavailable, showing UTC only: %s", exc)
        return {}, None


def _readable(user: Any, outbox: Outbox) -> list[str]:
    return sorted(permitted_dag_ids(user, miss_dag_ids(outbox), "GET"))


def misses_json(
    user: CurrentUser,
    dag_id: DagIdParam = None,
    since: Epoch = None,
    until: Epoch = None,
    limit: Limit = 200,
) -> dict[str, Any]:
    """SLA misses of the DAGs the user may read (and freshness misses if they may read assets), as JSON."""
    outbox = Outbox()
    zones, default = sla_timezones()
    items = list_misses(outbox, dag_id=dag_id or None, since=since, until=until, limit=limit,
                        dag_ids=_readable(user, outbox), timezones=zones, default_tz=default,
                        freshness=may_use_assets(user, "GET"))
    return {"misses": items, "total": len(items)}


def acknowledge(incident_id: IncidentId, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Mark one miss acknowledged (JSON requests only, which a cross-site form cannot send; DAG edit access,
    asset edit access for a freshness miss)."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(status_code=415, detail="send Content-Type: application/json")
    outbox = Outbox()
    incident = outbox.incident(incident_id)
    dag_id = (incident or {}).get("dag_id")
    freshness = (incident or {}).get("kind") == "freshness_miss"
    readable = may_use_assets(user, "GET") if freshness else bool(dag_id) and may_read_dag(user, str(dag_id))
    if incident is None or not readable:  # unreadable: as if absent
        raise HTTPException(status_code=404, detail=f"no incident {incident_id}")
    who = _user_name(user)
    from foundation.pipeline_logger import get_logger

    try:
        if not freshness:
            require_dag_edit(request, user, str(dag_id))
        elif not may_use_assets(user, "POST"):
            raise HTTPException(status_code=403, detail="acknowledging a freshness miss needs edit access to assets")
    except HTTPException:
        get_logger("alerts").log_event("sla_miss_acknowledge_denied", incident_id=incident_id, dag_id=dag_id,
                                       by=who)
        raise
    done = outbox.acknowledge(incident_id, who)
    get_logger("alerts").log_event("sla_miss_acknowledged", incident_id=incident_id, dag_id=dag_id, by=who,
                                   changed=done)
    return {"id": incident_id, "acknowledged": True, "changed": done}


def page(user: CurrentUser, dag_id: DagIdParam = None, window: str = "7d") -> HTMLResponse:
    """The HTML view (only DAGs the user may read; Acknowledge buttons only where they may edit)."""
    outbox = Outbox()
    window = window if window in WINDOWS else "7d"
    seconds = WINDOWS[window]
    since = time.time() - seconds if seconds else None
    readable = _readable(user, outbox)
    zones, default = sla_timezones()
    items = list_misses(outbox, dag_id=dag_id or None, since=since, dag_ids=readable, timezones=zones,
                        default_tz=default, freshness=may_use_assets(user, "GET"))
    editable = permitted_dag_ids(user, {m["dag_id"] for m in items if m["dag_id"]}, "PUT")
    edit_freshness = any(m["kind"] == "freshness_miss" for m in items) and may_use_assets(user, "POST")
    return HTMLResponse(render_page(items, readable, dag_id, window, editable=editable,
                                    edit_freshness=edit_freshness, tz=default))


def _markdown_page(name: str, title: str) -> HTMLResponse:
    """``docs/<name>`` as HTML; each heading gets the id GitHub would give it, so anchors work as on GitHub."""
    from markdown_it import MarkdownIt

    from alerts.runbook_links import github_anchor
    from foundation.paths import REPO_ROOT

    text = (REPO_ROOT / "docs" / name).read_text(encoding="utf-8")
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    tokens = md.parse(text)
    for opening, inline in itertools.pairwise(tokens):
        if opening.type == "heading_open" and inline.type == "inline":
            opening.attrSet("id", github_anchor(inline.content))
    rendered = md.renderer.render(tokens, md.options, {})
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        "<body style='font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto'>"
        f"{rendered}</body></html>"
    )


def runbook() -> HTMLResponse:
    """docs/slas.md as HTML (anchors match the runbook links of SLA alerts and messages)."""
    return _markdown_page("slas.md", "SLA runbook")


def alerts_runbook() -> HTMLResponse:
    """docs/runbook.md as HTML (anchors match the runbook links of the Prometheus alerts)."""
    return _markdown_page("runbook.md", "Alert runbook")


def create_app() -> FastAPI:
    """The app; every route needs an Airflow user with read access to DAGs (401 / 403 otherwise)."""
    app = FastAPI(
        title="Portfolio Maximizer SLA misses",
        dependencies=[Depends(require_dag_read)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_api_route("/api/misses", misses_json, methods=["GET"])
    app.add_api_route("/api/misses/{incident_id}/acknowledge", acknowledge, methods=["POST"])
    app.add_api_route("/ui", page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/runbook", runbook, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/runbook/alerts", alerts_runbook, methods=["GET"], response_class=HTMLResponse)
    return app
