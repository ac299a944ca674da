"""The typed ``Incident.details`` contract of SLA incidents: what the outbox, router and messages read.

An ``sla_miss`` carries its SLA name (required: the outbox's ``sla`` column, the ``sla.miss`` metric tag,
the recovery), its deadline (ISO-8601 UTC with ``Z``, or None: the ``deadline_at`` column, lateness, the
message's *Deadline* field) and optionally the SLA's own ``channels`` (routing overrides the severity's
route). An ``sla_recovered`` adds when the run finished and how late it was (*Late by*). A ``freshness_miss``
names its freshness SLA, asset and due instant (``deadline``); a ``freshness_recovered`` the newer event that
closed it (:mod:`alerts.freshness`). :func:`check_details`
enforces this when an :class:`alerts.incident.Incident` is built; the builders fill the TypedDicts below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

SLA_MISS, SLA_RECOVERED = "sla_miss", "sla_recovered"
SLA_WARNING, SLA_WARNING_CLEARED = "sla_warning", "sla_warning_cleared"
FRESHNESS_MISS, FRESHNESS_RECOVERED = "freshness_miss", "freshness_recovered"

Downtime = TypedDict("Downtime", {"from": str | None, "until": str | None})


class SlaMissDetails(TypedDict):
    """``details`` of an ``sla_miss`` (alerts.deadlines.build_miss_incident), in message order."""

    sla: str
    deadline: str | None
    reference: str | None
    variant: str | None
    budget_seconds: float | None
    run_type: str | None
    logical_date: Any
    queued_at: Any
    start_date: Any
    run_state_at_miss: Any
    detected_at: str | None
    description: str
    runbook: str
    detection_delay_seconds: float | None
    channels: NotRequired[list[str]]  # the SLA's own channels (else the severity's route)
    downtime: NotRequired[Downtime]  # the stack was down at the deadline (catch-up run)
    # added by the outbox worker before routing (alerts.early_warning.EarlyWarning.diagnosed)
    diagnosis: NotRequired[str]
    diagnosis_facts: NotRequired[dict[str, Any]]
    warned_at: NotRequired[str]
    warned_seconds_before_deadline: NotRequired[float]


class SlaRecoveryDetails(TypedDict):
    """``details`` of an ``sla_recovered`` (alerts.recovery.recovered_incident), in message order."""

    sla: str | None
    deadline: str | None
    finished_at: str | None
    late_seconds: float
    late_text: str
    missed_at: str | None


class FreshnessMissDetails(TypedDict):
    """``details`` of a ``freshness_miss`` (alerts.freshness.miss_incident), in message order."""

    sla: str
    asset: str
    deadline: str | None  # the due instant (ISO-8601 UTC): part of the dedup key
    due_at_local: str
    last_event: str | None
    last_event_local: str
    age_seconds: float
    age_text: str
    overdue_seconds: float
    rule: str  # max_age | newer_than
    reference: str | None
    reference_event: str | None
    calendar: str
    timezone: str
    detected_at: str | None
    description: str
    runbook: str
    channels: NotRequired[list[str]]


class FreshnessRecoveryDetails(TypedDict):
    """``details`` of a ``freshness_recovered`` (alerts.freshness.recovered_incident), in message order."""

    sla: str | None
    asset: str
    deadline: str | None
    new_event: str | None
    new_event_local: str
    late_seconds: float
    late_text: str
    missed_at: str | None
    state_now: str


REQUIRED: dict[str, tuple[str, ...]] = {
    SLA_MISS: ("sla",), SLA_RECOVERED: (),
    SLA_WARNING: ("sla", "deadline", "projected_finish"), SLA_WARNING_CLEARED: (),
    FRESHNESS_MISS: ("sla", "asset", "deadline"), FRESHNESS_RECOVERED: ("sla", "asset"),
}
# kinds whose ``sla`` must be a name
NAMED: tuple[str, ...] = (SLA_MISS, SLA_WARNING, FRESHNESS_MISS, FRESHNESS_RECOVERED)


def _fail(kind: str, key: str, why: str) -> ValueError:
    return ValueError(f"Incident({kind}).details[{key!r}] {why}")


def _check_time(kind: str, key: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):  # format not parsed: masking may rewrite the text
        raise _fail(kind, key, f"= {value!r}: must be an ISO-8601 text or None")


def check_details(kind: str, details: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` when the ``details`` of an SLA incident break the contract (other kinds: free-form)."""
    if kind not in REQUIRED:
        return
    for key in REQUIRED[kind]:
        if key not in details:
            raise _fail(kind, key, "is required")
    sla = details.get("sla")
    if (sla is None and kind in NAMED) or (sla is not None and not (isinstance(sla, str) and sla)):
        raise _fail(kind, "sla", f"= {sla!r}: must be the SLA name")
    asset = details.get("asset")
    if kind in (FRESHNESS_MISS, FRESHNESS_RECOVERED) and not (isinstance(asset, str) and asset):
        raise _fail(kind, "asset", f"= {asset!r}: must be the asset name or URI")
    _check_time(kind, "deadline", details.get("deadline"))
    channels = details.get("channels")
    if channels is not None and (not isinstance(channels, list) or not all(isinstance(c, str) for c in channels)):
        raise _fail(kind, "channels", f"= {channels!r}: must be a list of channel names")
    late = details.get("late_seconds")
    if late is not None and (isinstance(late, bool) or not isinstance(late, (int, float))):
        raise _fail(kind, "late_seconds", f"= {late!r}: must be a number of seconds")
