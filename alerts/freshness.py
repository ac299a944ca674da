"""The freshness judge (pure: no I/O) and the incidents it leads to.

:func:`judge` takes a :class:`~alerts.freshness_config.FreshnessSpec`, the latest event time of each asset it
names and ``now``, and returns a :class:`Verdict`: ``fresh``, ``stale`` (with the instant it became due) or
``never_produced``. Age is trading-day time (:mod:`alerts.trading_time`): whole non-session days in the
calendar's time zone are skipped, real elapsed seconds are counted otherwise (docs/slas.md#freshness).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from alerts.incident import Incident, utc_now
from alerts.sla_details import FreshnessMissDetails, FreshnessRecoveryDetails
from alerts.times import as_datetime, format_duration, iso_z
from alerts.trading_time import SessionPredicate, trading_due, trading_seconds

if TYPE_CHECKING:
    from alerts.freshness_config import FreshnessSpec

State = Literal["fresh", "stale", "never_produced"]
MISS, RECOVERED = "freshness_miss", "freshness_recovered"


@dataclass(frozen=True)
class Verdict:
    """What one freshness SLA says about its asset at ``now``."""

    sla: str
    asset: str
    state: State
    now: datetime
    last_event: datetime | None  # the asset's latest event at or before now
    age_seconds: float | None  # trading-day age of that event (None: never produced)
    due_at: datetime | None  # when the data is (or was) due at the latest; None: nothing is owed
    reason: str
    reference: str | None = None  # newer_than: the asset it must follow
    reference_event: datetime | None = None

    @property
    def dedup_key(self) -> str:
        """Stable per freshness SLA and due instant: every check of the same stale data finds one incident."""
        return freshness_dedup_key(self.sla, self.due_at)


def freshness_dedup_key(sla: str, due_at: datetime | None) -> str:
    """``pmx-freshness/<sla>/<due instant, UTC>`` (shared by the miss and its recovery)."""
    return f"pmx-freshness/{sla}/{iso_z(due_at) if due_at else 'none'}"


def local_text(value: datetime | None, zone: str) -> str:
    """``2026-11-27 07:15 EST (12:15 UTC)``: exchange-local time first, UTC after."""
    if value is None:
        return "-"
    at = value.astimezone(UTC)
    return f"{at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M %Z} ({at:%H:%M} UTC)"


def judge(spec: FreshnessSpec, events: Mapping[str, datetime | None], now: datetime,
          is_session: SessionPredicate | None = None) -> Verdict:
    """The verdict of ``spec`` at ``now`` from the latest event time of each asset (missing: never produced).

    ``is_session`` is the calendar's session predicate (None: plain 24/7 age).
    """
    zone = ZoneInfo(spec.timezone or "UTC")
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    last = as_datetime(events.get(spec.asset))
    ref = as_datetime(events.get(spec.newer_than)) if spec.newer_than else None

    def verdict(state: State, age: float | None, due: datetime | None, reason: str) -> Verdict:
        return Verdict(spec.name, spec.asset, state, now, last, age, due, reason, spec.newer_than, ref)

    if last is None:
        return verdict("never_produced", None, None, f"{spec.asset} has no event yet")
    age = trading_seconds(last, now, zone, is_session)
    if spec.max_age is not None:
        due = trading_due(last, spec.max_age, zone, is_session)
        limit = format_duration(spec.max_age.total_seconds())
        return verdict("stale" if now >= due else "fresh", age, due,
                       f"{format_duration(age)} old in trading-day time (max {limit})")
    if ref is None:
        return verdict("fresh", age, None, f"{spec.newer_than} has no event yet: nothing to follow")
    if last >= ref:  # one task writes both assets: an event at the same instant belongs to that load
        return verdict("fresh", age, None, f"not older than the {spec.newer_than} event of {iso_z(ref)}")
    due = trading_due(ref, spec.grace_period, zone, is_session)
    grace = format_duration(spec.grace_period.total_seconds())
    return verdict("stale" if now >= due else "fresh", age, due,
                   f"older than the {spec.newer_than} event of {local_text(ref, zone.key)} "
                   f"(grace {grace} of trading-day time)")


def miss_incident(spec: FreshnessSpec, verdict: Verdict, runbook_base: str) -> Incident:
    """The ``freshness_miss`` incident of a stale verdict (dedup key per SLA and due instant)."""
    assert verdict.state == "stale" and verdict.due_at is not None and verdict.age_seconds is not None
    zone = spec.timezone or "UTC"
    late = (verdict.now - verdict.due_at).total_seconds()
    details: FreshnessMissDetails = {
        "sla": spec.name,
        "asset": spec.asset,
        "deadline": iso_z(verdict.due_at),
        "due_at_local": local_text(verdict.due_at, zone),
        "last_event": iso_z(verdict.last_event),
        "last_event_local": local_text(verdict.last_event, zone),
        "age_seconds": round(verdict.age_seconds, 3),
        "age_text": format_duration(verdict.age_seconds),
        "overdue_seconds": round(late, 3),
        "rule": "max_age" if spec.max_age is not None else "newer_than",
        "reference": verdict.reference,
        "reference_event": iso_z(verdict.reference_event),
        "calendar": spec.calendar or "none",
        "timezone": zone,
        "detected_at": iso_z(verdict.now),
        "description": spec.description,
        "runbook": spec.runbook,
    }
    if spec.channels:
        details["channels"] = list(spec.channels)
    summary = (f"Freshness SLA {spec.name} missed: {spec.asset} last updated {details['last_event_local']}, "
               f"{verdict.reason}; due since {details['due_at_local']}, "
               f"{format_duration(late)} ago")
    return Incident(kind=MISS, dedup_key=verdict.dedup_key, severity=spec.severity, summary=summary,
                    details=dict(details), links={"runbook": spec.runbook_url(runbook_base)},
                    created_at=verdict.now)


def recovered_incident(miss: Incident, verdict: Verdict) -> Incident:
    """The ``freshness_recovered`` incident that closes ``miss`` now that a newer event arrived (same key)."""
    zone = str(miss.details.get("timezone") or "UTC")
    due = as_datetime(miss.details.get("deadline"))
    event = verdict.last_event
    late = (event - due).total_seconds() if event and due else 0.0
    details: FreshnessRecoveryDetails = {
        "sla": miss.sla,
        "asset": str(miss.details.get("asset")),
        "deadline": miss.deadline,
        "new_event": iso_z(event),
        "new_event_local": local_text(event, zone),
        "late_seconds": round(max(0.0, late), 3),
        "late_text": format_duration(late),
        "missed_at": iso_z(miss.created_at),
        "state_now": verdict.state,
    }
    summary = (f"Freshness SLA {miss.sla} recovered: {details['asset']} updated {details['new_event_local']}, "
               f"{format_duration(late)} after it was due ({miss.details.get('due_at_local')})")
    return Incident(kind=RECOVERED, dedup_key=miss.dedup_key, severity=miss.severity, summary=summary,
                    details=dict(details), links=dict(miss.links), created_at=utc_now())
