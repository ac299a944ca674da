from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from portfolio import calendar as cal

NY = ZoneInfo("America/New_York")


def ny(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=NY)  # type: ignore[misc]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("at", "is_open", "reason", "next_open"),
    [
        pytest.param(ny(2024, 7, 4, 11, 0), False, "holiday", utc(2024, 7, 5, 13, 30),
                     id="independence-day"),
        pytest.param(ny(2024, 6, 8, 11, 0), False, "weekend", utc(2024, 6, 10, 13, 30),
                     id="saturday"),
        pytest.param(ny(2024, 6, 10, 9, 29), False, "pre-market",
                     utc(2024, 6, 10, 13, 30), id="one-minute-before-open"),
        pytest.param(ny(2024, 6, 10, 9, 30), True, "open", utc(2024, 6, 11, 13, 30),
                     id="at-the-open"),
        pytest.param(ny(2024, 6, 10, 16, 0), False, "after-hours",
                     utc(2024, 6, 11, 13, 30), id="at-the-close"),
        pytest.param(ny(2024, 11, 29, 12, 59), True, "open", utc(2024, 12, 2, 14, 30),
                     id="early-close-day-still-open"),
        pytest.param(ny(2024, 11, 29, 13, 0), False, "early-close",
                     utc(2024, 12, 2, 14, 30), id="early-close-at-1pm"),
        pytest.param(ny(2024, 12, 24, 14, 0), False, "early-close",
                     utc(2024, 12, 26, 14, 30), id="christmas-eve-then-holiday"),
        # DST: the open is 14:30 UTC in winter (EST) and 13:30 UTC in summer (EDT)
        pytest.param(utc(2024, 3, 8, 14, 29), False, "pre-market",
                     utc(2024, 3, 8, 14, 30), id="winter-open-is-1430-utc"),
        pytest.param(utc(2024, 3, 11, 13, 30), True, "open", utc(2024, 3, 12, 13, 30),
                     id="first-monday-of-dst-opens-1330-utc"),
        pytest.param(utc(2024, 11, 4, 13, 45), False, "pre-market",
                     utc(2024, 11, 4, 14, 30), id="first-monday-after-dst-ends"),
        pytest.param(datetime(2024, 3, 11, 13, 30), True, "open", utc(2024, 3, 12, 13, 30),
                     id="naive-means-utc"),
    ],
)
def test_market_status(at: datetime, is_open: bool, reason: str, next_open: datetime) -> None:
    status = cal.market_status(at)
    assert (status.is_open, status.reason, status.next_open) == (is_open, reason, next_open)
    assert status.local_time.tzinfo is not None and status.next_open > status.at
    assert ("open" if is_open else reason) in status.describe()


def test_early_close_session_details() -> None:
    status = cal.market_status(datetime(2024, 11, 29, 10, 0, tzinfo=NY))
    assert status.early_close is True
    assert status.closes_at == datetime(2024, 11, 29, 18, 0, tzinfo=UTC)
    assert cal.is_early_close(date(2024, 11, 29)) and not cal.is_early_close(date(2024, 11, 27))
    assert cal.session_open_close(date(2024, 7, 3)) == (datetime(2024, 7, 3, 13, 30, tzinfo=UTC),
                                                        datetime(2024, 7, 3, 17, 0, tzinfo=UTC))


def test_sessions_skip_weekends_and_holidays() -> None:
    days = cal.sessions_between(date(2024, 12, 20), date(2025, 1, 3))
    assert date(2024, 12, 25) not in days and date(2025, 1, 1) not in days and date(2024, 12, 21) not in days
    assert days[0] == date(2024, 12, 20) and days[-1] == date(2025, 1, 3) and len(days) == 9
    assert cal.sessions_between(date(2024, 1, 5), date(2024, 1, 1)) == []
    assert cal.is_session(date(2024, 12, 24))
    assert not cal.is_session(date(2025, 1, 9)), "national day of mourning"
    assert cal.previous_session(date(2024, 7, 5)) == date(2024, 7, 3)
    assert cal.next_session(date(2024, 7, 3)) == date(2024, 7, 5)
    assert list(cal.session_index(date(2024, 12, 20), date(2025, 1, 3)).date) == days


def test_errors_name_the_problem() -> None:
    with pytest.raises(cal.CalendarError, match="1980-01-02 is outside the XNYS calendar range"):
        cal.sessions_between(date(1980, 1, 2), date(1980, 2, 1))
    with pytest.raises(cal.CalendarError, match="2024-07-04 is not a XNYS session"):
        cal.session_open_close(date(2024, 7, 4))
    with pytest.raises(cal.CalendarError, match="unknown exchange calendar 'NOPE'"):
        cal.get_calendar("NOPE")


def test_calendar_is_built_once_per_process() -> None:
    assert cal.get_calendar("XNYS") is cal.get_calendar("XNYS")
