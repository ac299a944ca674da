"""Incidents the domain raises, handed to the alert router by the entrypoint layer.

The domain core (``portfolio/``) never imports the add-on: it only records what happened (for now one kind,
a corrupt database replaced by a backup or an empty file: :func:`portfolio.database_manager.take_recoveries`).
The entrypoint wrapper, which every CLI run and every Airflow operator goes through, calls
:func:`route_domain_incidents` after each run, so the incident reaches the durable outbox in both cases.
When the router is not installed the incident is still in the JSON event log and the ``pmx.db.recovery``
metric (which a Prometheus rule pages on).
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from foundation.pipeline_logger import PipelineLogger
    from portfolio.database_manager import Recovery

INCIDENT_KIND = "db_recovered"


def recovery_incident(recovery: Recovery, entrypoint: str | None = None) -> Any:
    """The :class:`alerts.incident.Incident` of one database recovery (import deferred: optional add-on)."""
    from alerts.incident import Incident

    details = {**recovery.as_dict(), "entrypoint": entrypoint}
    return Incident(kind=INCIDENT_KIND, dedup_key=f"pmx-db/{Path(recovery.corrupt_copy).name}",
                    severity="critical" if recovery.backup_path is None else "error",
                    summary=recovery.summary(), details=details,
                    created_at=datetime.strptime(recovery.at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))


def route_domain_incidents(log: PipelineLogger, entrypoint: str | None = None) -> int:
    """Submit every pending domain incident to ``alerts.router.submit``; return how many were submitted.

    Never raises: a missing router or a failed submission is written as an event (the recovery's own
    ``db_recovered``/``db_recreated`` event and metric are already out).
    """
    from portfolio.database_manager import take_recoveries

    submitted = 0
    for recovery in take_recoveries():
        try:
            submit = importlib.import_module("alerts.router").submit
            submit(recovery_incident(recovery, entrypoint))
            submitted += 1
            log.log_event("incident_raised", level="error", kind=INCIDENT_KIND, db_path=recovery.db_path,
                          backup_path=recovery.backup_path, backup_age_seconds=recovery.backup_age_seconds)
        except Exception as exc:
            log.error("incident_not_routed", kind=INCIDENT_KIND, db_path=recovery.db_path,
                      error=f"{type(exc).__name__}: {exc}"[:300])
    return submitted
