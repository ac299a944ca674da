"""Pipeline section of the performance report: the JSON event log over the period, plus ETL history."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation.pipeline_logger import ERROR_LEVELS, STREAMS, read_events

if TYPE_CHECKING:
    from portfolio.readout import Connection


def period_events(since: str, until: str, log_dir: Path | None = None) -> list[dict[str, Any]]:
    """Events of every stream with ``since <= ts <= until``, oldest first.

    Error-level events are copied from their stream into ``errors``; those copies are skipped so that
    nothing is counted twice (lines written to ``errors`` directly are kept).
    """
    out: list[dict[str, Any]] = []
    for stream in STREAMS:
        for record in read_events(log_dir, stream):
            if stream == "errors" and record.get("stream", "errors") != "errors":
                continue
            ts = str(record.get("ts", ""))
            if since <= ts <= until:
                out.append(record)
    out.sort(key=lambda r: str(r.get("ts", "")))
    return out


def event_counts(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by component and level, and error-level counts by event type."""
    by_component: dict[str, Counter[str]] = defaultdict(Counter)
    errors: Counter[str] = Counter()
    for e in events:
        level = str(e.get("level", "info"))
        by_component[str(e.get("component") or "-")][level] += 1
        if level in ERROR_LEVELS:
            errors[str(e.get("event", "?"))] += 1
    levels = Counter(str(e.get("level", "info")) for e in events)
    return {"events": len(events), "by_level": dict(sorted(levels.items())),
            "by_component": {c: dict(sorted(n.items())) for c, n in sorted(by_component.items())},
            "errors_by_event": dict(errors.most_common())}


def last_etl_success(events: list[dict[str, Any]], conn: Connection) -> dict[str, dict[str, Any]]:
    """Newest successful load per ticker, from ``etl_loaded`` events and the ``etl_runs`` table (newest wins).

    The event log is pruned after its retention; ``etl_runs`` keeps older successes.
    """
    best: dict[str, dict[str, Any]] = {}

    def offer(ticker: Any, ts: Any, run_id: Any, rows: Any, source: Any, origin: str) -> None:
        if not ticker or not ts:
            return
        if ticker not in best or str(ts) > best[ticker]["ts"]:
            best[ticker] = {"ts": str(ts), "run_id": run_id, "rows_loaded": rows, "data_source": source,
                            "from": origin}

    for e in events:
        if e.get("event") == "etl_loaded":
            offer(e.get("ticker"), e.get("ts"), e.get("run_id"), e.get("rows_loaded"), e.get("source"),
                  "events")
    for ticker, ts, run_id, rows, source in conn.execute(
            "SELECT ticker, COALESCE(finished_at, started_at), run_id, rows_loaded, source FROM etl_runs "
            "WHERE status = 'success'").fetchall():
        offer(ticker, ts, run_id, rows, source, "etl_runs")
    return dict(sorted(best.items()))


def pipeline_section(events: list[dict[str, Any]], conn: Connection) -> dict[str, Any]:
    """Everything the report's pipeline section shows."""
    return {**event_counts(events), "last_etl_success": last_etl_success(events, conn)}
