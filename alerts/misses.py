"""Read model of the SLA-misses view: each miss with deadline, lateness, deliveries, ack and resolution."""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.outbox import Outbox


def _deliveries(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "delivered_at": _iso(r["delivered_at"])} for r in rows]


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if epoch else None


def local_time(text: str | None, tz: tzinfo | None) -> str | None:
    """An ISO UTC timestamp shown in ``tz`` (``2026-12-03 10:05:00 EST``); ``None`` when there is none."""
    if not text or tz is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return parsed.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def _with_local_times(item: dict[str, Any], tz: tzinfo | None) -> dict[str, Any]:
    item["timezone"] = str(tz) if tz is not None else None
    item["local"] = {
        k: local_time(item[k], tz) for k in ("detected_at", "deadline", "acknowledged_at", "resolved_at")
    }
    return item


def _zone(name: Any) -> tzinfo | None:
    """A freshness miss's own time zone (its details carry it), None when absent or unknown."""
    try:
        return ZoneInfo(str(name)) if name else None
    except (ValueError, ZoneInfoNotFoundError):
        return None


def list_misses(
    outbox: Outbox,
    *,
    dag_id: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 200,
    now: float | None = None,
    dag_ids: Collection[str] | None = None,
    timezones: dict[str, tzinfo] | None = None,
    default_tz: tzinfo | None = None,
    freshness: bool = False,
) -> list[dict[str, Any]]:
    """SLA misses, newest first, filtered by DAG and by detection time (unix seconds).

    ``dag_ids`` restricts the run SLAs' misses to those DAGs (the ones the user may read; ``None``: no
    restriction); ``freshness`` adds the data freshness misses (``kind`` ``freshness_miss``, with their ``asset``
    and no DAG or run). Times are also given in the SLA's timezone (``timezones`` by SLA name, else the
    freshness SLA's own, else ``default_tz``) under ``local``.
    """
    now = now or time.time()
    rows = outbox.sla_misses(dag_id=dag_id, dag_ids=None if dag_ids is None else sorted(dag_ids), since=since,
                             until=until, limit=max(1, min(limit, 1000)), freshness=freshness)
    out: list[dict[str, Any]] = []
    for row in rows:
        payload = json.loads(row["payload"])
        details = payload.get("details") or {}
        deadline = row["deadline_at"]
        if row["late_seconds"] is not None:
            late, ongoing = float(row["late_seconds"]), False
        elif deadline:
            late = now - datetime.fromisoformat(deadline.replace("Z", "+00:00")).timestamp()
            ongoing = True
        else:
            late, ongoing = None, True
        deliveries = _deliveries(row["deliveries"])
        item = {
            "id": row["id"],
            "kind": row["kind"],
            "asset": details.get("asset"),
            "dag_id": row["dag_id"],
            "run_id": row["run_id"],
            "sla": row["sla"],
            "severity": row["severity"],
            "deadline": deadline,
            "detected_at": payload.get("created_at"),
            "late_seconds": round(late, 1) if late is not None else None,
            "still_late": ongoing,
            "run_state": row["run_state"],
            "summary": row["summary"],
            "dedup_key": row["dedup_key"],
            "delivered_to": sorted({d["channel"] for d in deliveries if d["status"] == "delivered"}),
            # channels without credentials here: nothing was sent and nothing failed (not dead letters)
            "not_configured": sorted({d["channel"] for d in deliveries if d["status"] == "not_configured"}),
            "deliveries": deliveries,
            "recovery_deliveries": _deliveries(row["recovery_deliveries"]),
            "acknowledged_at": _iso(row["acknowledged_at"]),
            "acknowledged_by": row["acknowledged_by"],
            "resolved_at": _iso(row["resolved_at"]),
            "links": payload.get("links") or {},
            **{key: details.get(key) for key in ("diagnosis", "warned_at", "warned_seconds_before_deadline")},
        }
        zone = (timezones or {}).get(row["sla"] or "") or _zone(details.get("timezone")) or default_tz
        out.append(_with_local_times(item, zone))
    return out


def miss_dag_ids(outbox: Outbox) -> list[str]:
    """DAG ids that have at least one miss (for the filter drop-down)."""
    return outbox.miss_dag_ids()
