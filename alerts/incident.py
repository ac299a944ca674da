"""The incident contract: what deadline callbacks and threshold checks pass to ``alerts.router.submit``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from alerts.sla_details import check_details
from foundation.severity import Severity

SEVERITIES: tuple[str, ...] = ("critical", "error", "warning", "info")
# the kinds the router knows; other kinds are accepted and routed by severity like "error_threshold"
KINDS: tuple[str, ...] = (
    "sla_miss", "sla_recovered", "sla_warning", "sla_warning_cleared", "task_budget", "error_threshold",
    "error_threshold_resolved", "test", "freshness_miss", "freshness_recovered",
)
# A resolution closes the incident of the kind it maps to, with the same dedup key, on the channels that
# incident reached (PagerDuty: a ``resolve`` event; chat and email: a resolved message).
RESOLVES: dict[str, str] = {
    "sla_recovered": "sla_miss", "sla_warning_cleared": "sla_warning", "error_threshold_resolved": "error_threshold",
    "freshness_recovered": "freshness_miss",
}
# Storing an incident of the key kind closes the open incident of the value kind with the same dedup key without
# a message of its own: the SLA miss continues the thread its early warning opened (docs/slas.md#early-warning).
SUPERSEDES: dict[str, str] = {"sla_miss": "sla_warning"}


def utc_now() -> datetime:
    """Timezone-aware current UTC time."""
    return datetime.now(UTC)


@dataclass
class Incident:
    """One thing an operator must hear about.

    ``dedup_key`` identifies the incident across retries and re-submissions: the same ``(kind, dedup_key)``
    is stored once and delivered once per channel; PagerDuty uses it as its ``dedup_key`` (SLA misses:
    ``pmx-sla/<dag_id>/<sla>/<run_id>``; freshness misses: ``pmx-freshness/<sla>/<due instant>``). ``links`` maps
    a label to a URL (run, runbook, ...); ``details`` is JSON-serializable context, free-form except for SLA and
    freshness incidents (:mod:`alerts.sla_details`: checked here).
    Secrets must never be put in any field.
    """

    kind: str
    dedup_key: str
    severity: Severity
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    dag_id: str | None = None
    run_id: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"Incident.severity = {self.severity!r}: must be one of {', '.join(SEVERITIES)}")
        if not self.dedup_key:
            raise ValueError("Incident.dedup_key must not be empty")
        if self.created_at.tzinfo is None:
            self.created_at = self.created_at.replace(tzinfo=UTC)
        check_details(self.kind, self.details)

    @property
    def sla(self) -> str | None:
        """The SLA name (``details["sla"]``) of an SLA incident, else None."""
        value: str | None = self.details.get("sla")
        return value

    @property
    def deadline(self) -> str | None:
        """The ISO-8601 UTC deadline (``details["deadline"]``) of an SLA incident, else None."""
        value: str | None = self.details.get("deadline")
        return value

    @property
    def channels(self) -> list[str] | None:
        """Channels chosen by the incident itself (``details["channels"]``: an SLA's own); None: route by severity."""
        value = self.details.get("channels")
        return list(value) if value else None

    def to_json(self) -> str:
        """Serialize to one JSON object (datetimes as ISO-8601)."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return json.dumps(data, default=str, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Incident:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        return cls(**data)


def sla_dedup_key(dag_id: str, sla: str, run_id: str) -> str:
    """The stable dedup key of one SLA miss (and of its recovery): DAG + SLA + run."""
    return f"pmx-sla/{dag_id}/{sla}/{run_id}"
