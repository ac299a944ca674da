"""The calendar never ages out: it extends itself ahead of time, and refuses clearly past its limit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from portfolio import calendar as cal


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """A settable exchange 'today' for the calendar (a process that lives for years)."""
    state = {"today": date(2026, 12, 4)}
    monkeypatch.setattr(cal, "_today", lambda name: state["today"])
    cal.clear_cache()
    yield state
    cal.clear_cache()


def test_a_long_lived_process_rebuilds_before_the_end_is_reached(clock: dict) -> None:
    _, first_end = cal.calendar_horizon()
    assert first_end >= date(2026, 12, 4) + timedelta(days=cal.HORIZON_DAYS - 5)
    clock["today"] = first_end - timedelta(days=cal.REBUILD_MARGIN_DAYS - 1)  # two years later, same process
    status = cal.market_status(datetime.combine(clock["today"], datetime.min.time(), UTC))
    assert status.next_open.date() >= clock["today"]
    _, second_end = cal.calendar_horizon()
    assert second_end > first_end + timedelta(days=cal.HORIZON_DAYS - cal.REBUILD_MARGIN_DAYS - 5)


def test_a_date_near_the_built_end_extends_the_calendar(clock: dict) -> None:
    _, end = cal.calendar_horizon()
    assert cal.is_session(end + timedelta(days=400)) in (True, False)  # answered, not CalendarError
    assert cal.calendar_horizon()[1] > end


def test_past_the_limit_the_error_names_the_limit_and_the_setting(clock: dict) -> None:
    limit = clock["today"] + timedelta(days=cal.MAX_AHEAD_DAYS)
    with pytest.raises(cal.CalendarError, match=rf"beyond the XNYS calendar horizon limit {limit}.*MAX_AHEAD_DAYS"):
        cal.market_status(datetime.combine(limit + timedelta(days=1), datetime.min.time(), UTC))


@pytest.mark.parametrize(
    ("at", "day"),
    [
        pytest.param(datetime(2026, 12, 4, 0, 30, tzinfo=UTC), date(2026, 12, 3), id="0030-utc-is-still-yesterday"),
        pytest.param(datetime(2026, 12, 4, 4, 59, tzinfo=UTC), date(2026, 12, 3), id="2359-est"),
        pytest.param(datetime(2026, 12, 4, 5, 0, tzinfo=UTC), date(2026, 12, 4), id="midnight-est"),
        pytest.param(datetime(2027, 7, 1, 3, 59, tzinfo=UTC), date(2027, 6, 30), id="2359-edt"),
        pytest.param(datetime(2026, 12, 4, 0, 30), date(2026, 12, 3), id="naive-is-utc"),
    ],
)
def test_trading_day_is_the_new_york_date(at: datetime, day: date) -> None:
    assert cal.trading_day(at) == day
