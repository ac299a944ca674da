"""Health checks run by the ``monitoring`` DAG; each returns a small dict and raises only on a hard failure."""

from __future__ import annotations

from typing import Any

from foundation import paths
from foundation.pipeline_logger import STREAMS, get_logger


class HealthCheckFailed(RuntimeError):
    """A check found a problem that needs a human (the task fails, alerting follows)."""


def _report(check: str, status: str, **details: Any) -> dict[str, Any]:
    level = "info" if status == "ok" else "warning"
    get_logger("health").log_event("health_check", level=level, check=check, status=status, **details)
    return {"check": check, "status": status, **details}


def pipeline_health() -> dict[str, Any]:
    """Checkpoint inventory, event-log stream sizes and rotated-file counts, pruning past retention."""
    from portfolio.readout import CheckpointManager

    checkpoints = CheckpointManager()
    expired = len(checkpoints.cleanup())
    log = get_logger()
    pruned = len(log.cleanup())
    streams = {}
    for stream in STREAMS:
        live = log.stream_path(stream)
        rotated = [p for p in live.parent.glob(live.name + ".*") if not p.name.endswith(".lock")]
        streams[stream] = {"bytes": live.stat().st_size if live.exists() else 0, "rotated_files": len(rotated)}
    oversized = [s for s, v in streams.items() if v["bytes"] > 2 * log.max_bytes]
    status = "degraded" if oversized else "ok"
    return _report("pipeline", status, checkpoints=checkpoints.status(), expired_checkpoints=expired,
                   pruned_log_files=pruned, streams=streams, oversized_streams=oversized)


def database_health() -> dict[str, Any]:
    """``PRAGMA integrity_check`` and an online backup (SQLite; PostgreSQL is checked and backed up by its server
    and ``pg_dump``); raises when the database is damaged."""
    from portfolio.readout import DatabaseManager

    db = DatabaseManager()
    db.ensure_ready()
    problems = db.integrity_check()
    if problems:
        _report("database", "failed", db_path=db.location, problems=problems[:10])
        raise HealthCheckFailed(f"{db.location}: integrity_check reported {len(problems)} problem(s): {problems[:3]}")
    backup = db.backup()
    with db.connect() as conn:
        tables = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("ohlcv", "forecasts", "signals", "trades")}
    shown = str(backup) if backup else "none: back PostgreSQL up with pg_dump"
    return _report("database", "ok", db_path=db.location, backup=shown, rows=tables)


def data_source_health() -> dict[str, Any]:
    """Availability of every configured source in the current mode (keys present, not in network cooldown)."""
    from portfolio.readout import DataSourceManager

    manager = DataSourceManager()
    sources = {}
    for source in manager.sources:
        usable, reason = source.available()
        sources[source.name] = {"available": usable, "reason": reason}
    status = "ok" if any(s["available"] for s in sources.values()) else "failed"
    if status == "failed":
        _report("data_sources", status, mode=manager.mode, sources=sources)
        raise HealthCheckFailed(f"no usable data source in mode {manager.mode}: {sources}")
    return _report("data_sources", status, mode=manager.mode, sources=sources)


def performance_snapshot(run: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the offline performance report (of ``run`` when given) and return where it is."""
    from monitoring.performance_dashboard import build_report

    result = build_report(output_dir=paths.reports_dir(), include_airflow=False, run=run)
    return _report("performance", "ok", **result)
