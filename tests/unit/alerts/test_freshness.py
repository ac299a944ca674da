"""The freshness judge at pinned instants: weekdays, weekends, holidays, DST, "newer than", never produced."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts.freshness import freshness_dedup_key, judge, miss_incident, recovered_incident
from alerts.freshness_config import FreshnessSpec
from alerts.trading_time import session_predicate

NY = ZoneInfo("America/New_York")
OHLCV, FORECASTS = "portfolio_ohlcv", "portfolio_forecasts"


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def spec(**over: Any) -> FreshnessSpec:
    body: dict[str, Any] = {"name": "ohlcv_daily", "asset": OHLCV, "max_age": "26h", "calendar": "XNYS",
                            "timezone": "America/New_York", "runbook": "#ohlcv_daily", "severity": "error"}
    body.update(over)
    return FreshnessSpec(**{k: v for k, v in body.items() if v is not None})


FORECAST_SPEC = dict(name="forecasts_after_ohlcv", asset=FORECASTS, max_age=None, newer_than=OHLCV, grace="2h",
                     severity="warning", runbook="#forecasts_after_ohlcv")
XNYS = session_predicate("XNYS")


@pytest.mark.parametrize(
    ("event", "now", "state", "age_hours", "due"),
    [
        pytest.param(ny(2026, 12, 1, 5, 15), ny(2026, 12, 2, 7, 0), "fresh", 25.75, utc(2026, 12, 2, 12, 15),
                     id="weekday-fresh"),
        pytest.param(ny(2026, 12, 1, 5, 15), ny(2026, 12, 2, 8, 0), "stale", 26.75, utc(2026, 12, 2, 12, 15),
                     id="weekday-stale"),
        pytest.param(ny(2026, 12, 4, 5, 45), ny(2026, 12, 6, 12, 0), "fresh", 18.25, utc(2026, 12, 7, 12, 45),
                     id="sunday-is-not-counted"),
        pytest.param(ny(2026, 12, 4, 5, 45), ny(2026, 12, 7, 7, 0), "fresh", 25.25, utc(2026, 12, 7, 12, 45),
                     id="friday-to-monday-morning"),
        pytest.param(ny(2026, 12, 4, 5, 45), ny(2026, 12, 7, 8, 0), "stale", 26.25, utc(2026, 12, 7, 12, 45),
                     id="monday-late"),
        pytest.param(ny(2026, 11, 25, 5, 15), ny(2026, 11, 26, 12, 0), "fresh", 18.75, utc(2026, 11, 27, 12, 15),
                     id="thanksgiving"),
        pytest.param(ny(2026, 11, 25, 5, 15), ny(2026, 11, 27, 6, 30), "fresh", 25.25, utc(2026, 11, 27, 12, 15),
                     id="day-after-thanksgiving-early"),
        pytest.param(ny(2026, 11, 25, 5, 15), ny(2026, 11, 27, 8, 0), "stale", 26.75, utc(2026, 11, 27, 12, 15),
                     id="day-after-thanksgiving-late"),
        pytest.param(ny(2026, 12, 24, 5, 15), ny(2026, 12, 25, 18, 0), "fresh", 18.75, utc(2026, 12, 28, 12, 15),
                     id="christmas"),
        pytest.param(ny(2026, 12, 24, 5, 15), ny(2026, 12, 28, 7, 0), "fresh", 25.75, utc(2026, 12, 28, 12, 15),
                     id="after-christmas-weekend"),
        pytest.param(ny(2026, 3, 6, 5, 15), utc(2026, 3, 9, 11, 0), "fresh", 25.75, utc(2026, 3, 9, 11, 15),
                     id="spring-forward-0700-edt"),
        pytest.param(ny(2026, 3, 6, 5, 15), utc(2026, 3, 9, 11, 30), "stale", 26.25, utc(2026, 3, 9, 11, 15),
                     id="spring-forward-0730-edt"),
        pytest.param(ny(2026, 10, 30, 5, 15), utc(2026, 11, 2, 12, 0), "fresh", 25.75, utc(2026, 11, 2, 12, 15),
                     id="fall-back-0700-est"),
        pytest.param(ny(2026, 10, 30, 5, 15), utc(2026, 11, 2, 12, 30), "stale", 26.25, utc(2026, 11, 2, 12, 15),
                     id="fall-back-0730-est"),
    ],
)
def test_max_age_in_trading_day_time(event: datetime, now: datetime, state: str, age_hours: float,
                                     due: datetime) -> None:
    verdict = judge(spec(), {OHLCV: event}, now, XNYS)
    assert (verdict.state, verdict.due_at) == (state, due)
    assert verdict.age_seconds == pytest.approx(age_hours * 3600)
    assert verdict.last_event == event


def test_without_a_calendar_the_weekend_counts() -> None:
    plain = spec(calendar="none", timezone="UTC")
    verdict = judge(plain, {OHLCV: ny(2026, 12, 4, 5, 45)}, ny(2026, 12, 7, 7, 0), None)
    assert verdict.state == "stale" and verdict.age_seconds == pytest.approx(73.25 * 3600)
    assert verdict.due_at == ny(2026, 12, 5, 7, 45)


def test_an_asset_never_produced_is_no_miss() -> None:
    verdict = judge(spec(), {}, ny(2026, 12, 2, 8, 0), XNYS)
    assert (verdict.state, verdict.age_seconds, verdict.due_at) == ("never_produced", None, None)
    assert verdict.reason == "portfolio_ohlcv has no event yet"


@pytest.mark.parametrize(
    ("forecast", "now", "state", "due"),
    [
        pytest.param(ny(2026, 12, 1, 5, 20), ny(2026, 12, 1, 9, 0), "fresh", None, id="newer"),
        pytest.param(ny(2026, 12, 1, 5, 15), ny(2026, 12, 1, 9, 0), "fresh", None, id="same-instant-same-load"),
        pytest.param(ny(2026, 11, 30, 5, 20), ny(2026, 12, 1, 7, 0), "fresh", utc(2026, 12, 1, 12, 15),
                     id="older-within-grace"),
        pytest.param(ny(2026, 11, 30, 5, 20), ny(2026, 12, 1, 7, 30), "stale", utc(2026, 12, 1, 12, 15),
                     id="older-past-grace"),
    ],
)
def test_forecasts_newer_than_the_last_ohlcv_load(forecast: datetime, now: datetime, state: str,
                                                  due: datetime | None) -> None:
    events = {OHLCV: ny(2026, 12, 1, 5, 15), FORECASTS: forecast}
    verdict = judge(spec(**FORECAST_SPEC), events, now, XNYS)
    assert (verdict.state, verdict.due_at) == (state, due)
    assert verdict.reference == OHLCV and verdict.reference_event == ny(2026, 12, 1, 5, 15)


def test_the_grace_period_skips_the_weekend() -> None:
    events = {OHLCV: ny(2026, 12, 4, 23, 0), FORECASTS: ny(2026, 12, 3, 5, 20)}  # a late Friday load
    sunday = judge(spec(**FORECAST_SPEC), events, ny(2026, 12, 6, 12, 0), XNYS)
    assert sunday.state == "fresh" and sunday.due_at == ny(2026, 12, 7, 1, 0)
    assert judge(spec(**FORECAST_SPEC), events, ny(2026, 12, 7, 1, 0), XNYS).state == "stale"


def test_newer_than_without_events() -> None:
    assert judge(spec(**FORECAST_SPEC), {OHLCV: ny(2026, 12, 1, 5, 15)}, ny(2026, 12, 2), XNYS).state == \
        "never_produced"
    alone = judge(spec(**FORECAST_SPEC), {FORECASTS: ny(2026, 12, 1, 5, 15)}, ny(2026, 12, 9), XNYS)
    assert alone.state == "fresh" and alone.due_at is None


def test_the_miss_incident_says_how_old_and_since_when_in_exchange_time() -> None:
    verdict = judge(spec(channels=["slack"]), {OHLCV: ny(2026, 11, 25, 5, 15)}, ny(2026, 11, 27, 8, 0), XNYS)
    incident = miss_incident(spec(channels=["slack"]), verdict, "http://ui/pmx-sla/runbook")
    assert incident.kind == "freshness_miss" and incident.severity == "error"
    assert incident.dedup_key == "pmx-freshness/ohlcv_daily/2026-11-27T12:15:00.000000Z"
    assert incident.dedup_key == freshness_dedup_key("ohlcv_daily", utc(2026, 11, 27, 12, 15))
    assert incident.summary == (
        "Freshness SLA ohlcv_daily missed: portfolio_ohlcv last updated 2026-11-25 05:15 EST (10:15 UTC), "
        "26h 45m old in trading-day time (max 26h); due since 2026-11-27 07:15 EST (12:15 UTC), 45m ago")
    assert incident.sla == "ohlcv_daily" and incident.deadline == "2026-11-27T12:15:00.000000Z"
    assert incident.channels == ["slack"]
    assert incident.links == {"runbook": "http://ui/pmx-sla/runbook#ohlcv_daily"}
    assert incident.details["age_seconds"] == 26.75 * 3600 and incident.details["calendar"] == "XNYS"


def test_the_recovery_closes_the_miss_with_the_same_key() -> None:
    old = judge(spec(), {OHLCV: ny(2026, 11, 25, 5, 15)}, ny(2026, 11, 27, 8, 0), XNYS)
    miss = miss_incident(spec(), old, "http://ui/rb")
    new = judge(spec(), {OHLCV: ny(2026, 11, 27, 9, 15)}, ny(2026, 11, 27, 9, 20), XNYS)
    recovery = recovered_incident(miss, new)
    assert (recovery.kind, recovery.dedup_key, recovery.severity) == ("freshness_recovered", miss.dedup_key, "error")
    assert recovery.summary == ("Freshness SLA ohlcv_daily recovered: portfolio_ohlcv updated 2026-11-27 09:15 EST "
                                "(14:15 UTC), 2h after it was due (2026-11-27 07:15 EST (12:15 UTC))")
    assert recovery.details["late_seconds"] == 7200.0
