"""Exchange calendar (``exchange_calendars``, XNYS by default): sessions, open/close times and market status.

Calendar construction is slow, so each calendar is built once per process, over a fixed window
(:data:`FIRST_DAY` to two years after today). Times are returned as timezone-aware UTC datetimes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import exchange_calendars
    import pandas as pd

DEFAULT_CALENDAR = "XNYS"
FIRST_DAY = date(1990, 1, 2)
Reason = Literal["open", "weekend", "holiday", "pre-market", "after-hours", "early-close"]


class CalendarError(ValueError):
    """A date outside the calendar's range or an unknown calendar name."""


_build_lock = threading.Lock()


def get_calendar(name: str = DEFAULT_CALENDAR) -> exchange_calendars.ExchangeCalendar:
    """The calendar ``name`` (built once per process, also when threads ask at the same time)."""
    with _build_lock:
        return _build(name)


@lru_cache(maxsize=4)
def _build(name: str) -> exchange_calendars.ExchangeCalendar:
    import exchange_calendars as xcals

    last = date.today() + timedelta(days=730)
    try:
        return xcals.get_calendar(name, start=FIRST_DAY.isoformat(), end=last.isoformat())
    except xcals.errors.InvalidCalendarName:
        raise CalendarError(f"unknown exchange calendar {name!r}") from None


def _ts(day: date) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp(day.isoformat())


@lru_cache(maxsize=4)
def _bounds(name: str) -> tuple[date, date]:
    cal = get_calendar(name)
    return cal.first_session.date(), cal.last_session.date()


def _check(cal: exchange_calendars.ExchangeCalendar, day: date) -> None:
    first, last = _bounds(cal.name)
    if not (first <= day <= last):
        raise CalendarError(f"{day.isoformat()} is outside the {cal.name} calendar range {first}..{last}")


@lru_cache(maxsize=4)
def _session_set(name: str) -> frozenset[date]:
    return frozenset(d.date() for d in get_calendar(name).sessions)


def sessions_between(start: date, end: date, name: str = DEFAULT_CALENDAR) -> list[date]:
    """Trading sessions from ``start`` to ``end`` inclusive (empty when ``start > end``)."""
    if start > end:
        return []
    cal = get_calendar(name)
    _check(cal, start)
    _check(cal, end)
    return [d.date() for d in cal.sessions_in_range(_ts(start), _ts(end))]


def session_index(start: date, end: date, name: str = DEFAULT_CALENDAR) -> pd.DatetimeIndex:
    """Sessions from ``start`` to ``end`` inclusive as a ``DatetimeIndex`` (vectorised callers)."""
    cal = get_calendar(name)
    _check(cal, start)
    _check(cal, end)
    return cal.sessions_in_range(_ts(start), _ts(end))


def is_session(day: date, name: str = DEFAULT_CALENDAR) -> bool:
    """Whether ``day`` is a trading session."""
    _check(get_calendar(name), day)
    return day in _session_set(name)


def previous_session(day: date, name: str = DEFAULT_CALENDAR) -> date:
    """The last session strictly before ``day``."""
    cal = get_calendar(name)
    _check(cal, day)
    return cal.date_to_session(_ts(day - timedelta(days=1)), direction="previous").date()


def next_session(day: date, name: str = DEFAULT_CALENDAR) -> date:
    """The first session strictly after ``day``."""
    cal = get_calendar(name)
    _check(cal, day)
    return cal.date_to_session(_ts(day + timedelta(days=1)), direction="next").date()


def session_open_close(day: date, name: str = DEFAULT_CALENDAR) -> tuple[datetime, datetime]:
    """Open and close of session ``day`` as UTC datetimes (early closes included)."""
    if not is_session(day, name):
        raise CalendarError(f"{day.isoformat()} is not a {name} session")
    opened, closed = get_calendar(name).session_open_close(_ts(day))
    return opened.to_pydatetime(), closed.to_pydatetime()


def is_early_close(day: date, name: str = DEFAULT_CALENDAR) -> bool:
    """Whether session ``day`` closes earlier than the regular close."""
    cal = get_calendar(name)
    tz = ZoneInfo(str(cal.tz))
    _, close = session_open_close(day, name)
    regular = cal.close_times[-1][1]
    return close.astimezone(tz).time() < regular


@dataclass(frozen=True)
class MarketStatus:
    """Whether the market is open at ``at``, why not if closed, and when it next opens."""

    at: datetime                 # the instant asked about (UTC)
    is_open: bool
    reason: Reason
    local_time: datetime         # ``at`` in the exchange's time zone
    session: date | None         # the session of the local date, if it is one
    early_close: bool            # that session closes early
    closes_at: datetime | None   # close of that session (UTC)
    next_open: datetime          # next open strictly after ``at`` (UTC)

    def describe(self) -> str:
        """One line for logs and sensor messages."""
        state = "open" if self.is_open else f"closed ({self.reason})"
        return (f"market {state} at {self.local_time:%Y-%m-%d %H:%M %Z}; "
                f"next open {self.next_open:%Y-%m-%d %H:%M} UTC")


def _next_open_after(ts: datetime, local_day: date, name: str) -> datetime:
    day = local_day if is_session(local_day, name) else next_session(local_day, name)
    opened, _ = session_open_close(day, name)
    if opened <= ts:
        opened, _ = session_open_close(next_session(day, name), name)
    return opened


def market_status(ts: datetime, name: str = DEFAULT_CALENDAR) -> MarketStatus:
    """Market status at ``ts`` (naive datetimes are taken as UTC): holidays, early closes and DST included."""
    at = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    tz = ZoneInfo(str(get_calendar(name).tz))
    local = at.astimezone(tz)
    day = local.date()
    nxt = _next_open_after(at, day, name)
    if not is_session(day, name):
        reason: Reason = "weekend" if day.weekday() >= 5 else "holiday"
        return MarketStatus(at, False, reason, local, None, False, None, nxt)
    opened, closed = session_open_close(day, name)
    early = is_early_close(day, name)
    if at < opened:
        reason, is_open = "pre-market", False
    elif at >= closed:
        reason, is_open = ("early-close" if early else "after-hours"), False
    else:
        reason, is_open = "open", True
    return MarketStatus(at, is_open, reason, local, day, early, closed, nxt)
