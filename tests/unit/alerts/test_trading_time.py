"""Trading-day time on the XNYS calendar: weekends, holidays and the 2026 DST changes, at pinned instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.trading_time import (
    CalendarUnknown,
    SessionPredicate,
    calendar_timezone,
    session_predicate,
    trading_due,
    trading_seconds,
)

NY = ZoneInfo("America/New_York")
H = 3600.0


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


@pytest.fixture(scope="module")
def xnys() -> SessionPredicate:
    return session_predicate("XNYS")


def test_the_calendar_knows_the_2026_holidays_and_weekends(xnys: SessionPredicate) -> None:
    assert xnys(date(2026, 11, 25)) and xnys(date(2026, 11, 27))  # the day before and the early close after
    assert not xnys(date(2026, 11, 26))  # Thanksgiving
    assert not xnys(date(2026, 12, 25))  # Christmas
    assert not xnys(date(2026, 12, 5)) and not xnys(date(2026, 12, 6))


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        pytest.param(ny(2026, 12, 4, 5, 45), ny(2026, 12, 7, 7, 0), 25.25, id="friday-to-monday-skips-the-weekend"),
        pytest.param(ny(2026, 11, 25, 5, 15), ny(2026, 11, 27, 6, 30), 25.25, id="thanksgiving-skipped"),
        pytest.param(ny(2026, 12, 24, 5, 15), ny(2026, 12, 28, 7, 0), 25.75, id="christmas-and-weekend-skipped"),
        pytest.param(ny(2026, 3, 6, 5, 15), ny(2026, 3, 9, 7, 0), 25.75, id="spring-forward-weekend"),
        pytest.param(ny(2026, 10, 30, 5, 15), ny(2026, 11, 2, 7, 0), 25.75, id="fall-back-weekend"),
        pytest.param(ny(2026, 12, 5, 9, 0), ny(2026, 12, 6, 9, 0), 0.0, id="all-weekend"),
        pytest.param(ny(2026, 12, 2, 9, 0), ny(2026, 12, 1, 9, 0), 0.0, id="end-before-start"),
    ],
)
def test_trading_seconds(xnys: SessionPredicate, start: datetime, end: datetime, hours: float) -> None:
    assert trading_seconds(start, end, NY, xnys) == pytest.approx(hours * H)


@pytest.mark.parametrize(
    ("start", "due_utc"),
    [
        pytest.param(ny(2026, 12, 1, 5, 15), datetime(2026, 12, 2, 12, 15, tzinfo=UTC), id="weekday"),
        pytest.param(ny(2026, 12, 4, 5, 45), datetime(2026, 12, 7, 12, 45, tzinfo=UTC), id="over-the-weekend"),
        pytest.param(ny(2026, 11, 25, 5, 15), datetime(2026, 11, 27, 12, 15, tzinfo=UTC), id="over-thanksgiving"),
        pytest.param(ny(2026, 12, 24, 5, 15), datetime(2026, 12, 28, 12, 15, tzinfo=UTC), id="over-christmas"),
        # 07:15 local on the Monday after each change: EDT is UTC-4, EST is UTC-5
        pytest.param(ny(2026, 3, 6, 5, 15), datetime(2026, 3, 9, 11, 15, tzinfo=UTC), id="spring-forward"),
        pytest.param(ny(2026, 10, 30, 5, 15), datetime(2026, 11, 2, 12, 15, tzinfo=UTC), id="fall-back"),
        pytest.param(ny(2026, 12, 5, 12, 0), datetime(2026, 12, 8, 7, 0, tzinfo=UTC),
                     id="saturday-event-counts-from-monday"),
    ],
)
def test_trading_due_26h(xnys: SessionPredicate, start: datetime, due_utc: datetime) -> None:
    due = trading_due(start, timedelta(hours=26), NY, xnys)
    assert due == due_utc
    assert trading_seconds(start, due, NY, xnys) == pytest.approx(26 * H)


@pytest.mark.parametrize(("day", "hours"),
                         [(date(2026, 3, 8), 23.0), (date(2026, 11, 1), 25.0), (date(2026, 3, 9), 24.0)],
                         ids=["spring-forward-sunday", "fall-back-sunday", "ordinary-monday"])
def test_a_local_day_is_its_real_length_on_dst_days(day: date, hours: float) -> None:
    every_day = lambda _d: True  # noqa: E731
    start = datetime.combine(day, datetime.min.time(), tzinfo=NY)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=NY)
    assert trading_seconds(start, end, NY, every_day) == pytest.approx(hours * H)


def test_without_a_calendar_age_is_plain_elapsed_time() -> None:
    start, end = ny(2026, 12, 4, 5, 45), ny(2026, 12, 7, 7, 0)
    assert trading_seconds(start, end, NY, None) == (end - start).total_seconds() == pytest.approx(73.25 * H)
    assert trading_due(start, timedelta(hours=26), NY, None) == start + timedelta(hours=26)


def test_calendar_names_are_checked_and_give_their_zone() -> None:
    assert calendar_timezone("XNYS") == "America/New_York"
    with pytest.raises(CalendarUnknown, match="unknown exchange calendar 'XNYZ'"):
        calendar_timezone("XNYZ")


def test_a_date_outside_the_built_window_widens_it(xnys: SessionPredicate) -> None:
    assert xnys(date(2019, 12, 24)) and not xnys(date(2019, 12, 25))
    assert xnys(date(2030, 1, 2)) and not xnys(date(2030, 1, 1))
