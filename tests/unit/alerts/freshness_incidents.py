"""A real freshness miss and its recovery, built by the freshness judge at pinned instants (tests' helper)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from alerts.freshness import judge, miss_incident, recovered_incident
from alerts.freshness_config import FreshnessSpec
from alerts.incident import Incident

NY = ZoneInfo("America/New_York")
SPEC = FreshnessSpec(name="ohlcv_daily", asset="portfolio_ohlcv", max_age="26h", calendar="none",
                     timezone="America/New_York", runbook="#ohlcv_daily", severity="error")


def freshness_miss() -> Incident:
    """``portfolio_ohlcv`` loaded Tuesday 05:15 New York, judged stale on Wednesday at 08:00."""
    events = {SPEC.asset: datetime(2026, 12, 1, 5, 15, tzinfo=NY)}
    return miss_incident(SPEC, judge(SPEC, events, datetime(2026, 12, 2, 8, 0, tzinfo=NY)), "http://ui/runbook")


def freshness_recovery(miss: Incident) -> Incident:
    """The load that came at 09:15 on Wednesday: the recovery of ``miss``."""
    events = {SPEC.asset: datetime(2026, 12, 2, 9, 15, tzinfo=NY)}
    return recovered_incident(miss, judge(SPEC, events, datetime(2026, 12, 2, 9, 16, tzinfo=NY)))
