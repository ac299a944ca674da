"""Exchange calendar (``exchange_calendars``, XNYS by default): sessions, open/close times and market status.

Calendar construction takes a fraction of a second, so each calendar is built once per process over a window
from :data:`FIRST_DAY` to :data:`HORIZON_DAYS` after the exchange's current session date, and rebuilt (further
out) whenever a lookup comes within :data:`REBUILD_MARGIN_DAYS` of its end: a long-lived process never ages
into the end of its calendar. A date more than :data:`MAX_AHEAD_DAYS` after today is refused with a
:class:`CalendarError`. Times are returned as timezone-aware UTC datetimes.

:func:`trading_day` is the one "today" of trading logic: the exchange's session date in its own time zone
(America/New_York for XNYS), never the server's local date.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import exchange_calendars
    import pandas as pd

DEFAULT_CALENDAR = "XNYS"
FIRST_DAY = date(1990, 1, 2)
HORIZON_DAYS = 730          # a (re)build covers the exchange's today + this many days
REBUILD_MARGIN_DAYS = 60    # a lookup this close to the end of the built window triggers a rebuild
MAX_AHEAD_DAYS = 3650       # the furthest a lookup may reach past today; beyond it: CalendarError
EXCHANGE_TZ = {"XNYS": "America/New_York", "XNAS": "America/New_York"}
Reason = Literal["open", "weekend", "holiday", "pre-market", "after-hours", "early-close"]


class CalendarError(ValueError):
    """A date outside the calendar's range or an unknown calendar name."""


def exchange_timezone(name: str = DEFAULT_CALENDAR) -> ZoneInfo:
    """The time zone of calendar ``name`` (without building it for the known US exchanges)."""
    tz = EXCHANGE_TZ.get(name)
    return ZoneInfo(tz) if tz else ZoneInfo(str(get_calendar(name).tz))


def trading_day(at: datetime | None = None, name: str = DEFAULT_CALENDAR) -> date:
    """The exchange's date at ``at`` (default: now), in the exchange's time zone: the "today" of trading."""
    instant = datetime.now(UTC) if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))
    return instant.astimezone(exchange_timezone(name)).date()


def _today(name: str) -> date:
    tz = EXCHANGE_TZ.get(name)
    return datetime.now(UTC).astimezone(ZoneInfo(tz)).date() if tz else datetime.now(UTC).date()


@dataclass(frozen=True)
class _Built:
    calendar: exchange_calendars.ExchangeCalendar
    first: date
    last: date
    sessions: frozenset[date]


_build_lock = threading.Lock()
_built: dict[str, _Built] = {}


def _build(name: str, through: date) -> _Built:
    import exchange_calendars as xcals

    try:
        cal = xcals.get_calendar(name, start=FIRST_DAY.isoformat(), end=through.isoformat())
    except xcals.errors.InvalidCalendarName:
        raise CalendarError(f"unknown exchange calendar {name!r}") from None
    return _Built(cal, cal.first_session.date(), cal.last_session.date(),
                  frozenset(d.date() for d in cal.sessions))


def _built_for(name: str, day: date | None = None) -> _Built:
    """The calendar ``name`` built far enough to answer for ``day`` (rebuilt further out when it gets close)."""
    today = _today(name)
    needed = max(today, day) if day is not None else today
    limit = today + timedelta(days=MAX_AHEAD_DAYS)
    if needed > limit:
        raise CalendarError(
            f"{needed.isoformat()} is beyond the {name} calendar horizon limit {limit.isoformat()} "
            f"(portfolio.calendar.MAX_AHEAD_DAYS = {MAX_AHEAD_DAYS} days after {today.isoformat()})")
    with _build_lock:
        built = _built.get(name)
        if built is None or needed + timedelta(days=REBUILD_MARGIN_DAYS) > built.last:
            through = min(needed + timedelta(days=HORIZON_DAYS), limit + timedelta(days=REBUILD_MARGIN_DAYS))
            built = _built[name] = _build(name, through)
        return built


def get_calendar(name: str = DEFAULT_CALENDAR) -> exchange_calendars.ExchangeCalendar:
    """The calendar ``name`` (built once per process and extended ahead of time, also across threads)."""
    return _built_for(name).calendar


def calendar_horizon(name: str = DEFAULT_CALENDAR) -> tuple[date, date]:
    """First and last session of the calendar as built right now."""
    built = _built_for(name)
    return built.first, built.last


def clear_cache() -> None:
    """Forget every built calendar (tests; the next lookup rebuilds)."""
    with _build_lock:
        _built.clear()


def _ts(day: date) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp(day.isoformat())


def _checked(name: str, day: date) -> _Built:
    built = _built_for(name, day)
    if not (built.first <= day <= built.last):
        raise CalendarError(f"{day.isoformat()} is outside the {name} calendar range {built.first}..{built.last}")
    return built


def sessions_between(start: date, end: date, name: str = DEFAULT_CALENDAR) -> list[date]:
    """Trading sessions from ``start`` to ``end`` inclusive (empty when ``start > end``)."""
    if start > end:
        return []
    _checked(name, start)
    cal = _checked(name, end).calendar
    return [d.date() for d in cal.sessions_in_range(_ts(start), _ts(end))]


def session_index(start: date, end: date, name: str = DEFAULT_CALENDAR) -> pd.DatetimeIndex:
    """Sessions from ``start`` to ``end`` inclusive as a ``DatetimeIndex`` (vectorised callers)."""
    _checked(name, start)
    cal = _checked(name, end).calendar
    return cal.sessions_in_range(_ts(start), _ts(end))


def is_session(day: date, name: str = DEFAULT_CALENDAR) -> bool:
    """Whether ``day`` is a trading session."""
    return day in _checked(name, day).sessions


def previous_session(day: date, name: str = DEFAULT_CALENDAR) -> date:
    """The last session strictly before ``day``."""
    cal = _checked(name, day).calendar
    return cal.date_to_session(_ts(day - timedelta(days=1)), direction="previous").date()


def next_session(day: date, name: str = DEFAULT_CALENDAR) -> date:
    """The first session strictly after ``day``."""
    cal = _checked(name, day + timedelta(days=7)).calendar
    return cal.date_to_session(_ts(day + timedelta(days=1)), direction="next").date()


def session_open_close(day: date, name: str = DEFAULT_CALENDAR) -> tuple[datetime, datetime]:
    """Open and close of session ``day`` as UTC datetimes (early closes included)."""
    if not is_session(day, name):
        raise CalendarError(f"{day.isoformat()} is not a {name} session")
    opened, closed = _checked(name, day).calendar.session_open_close(_ts(day))
    return opened.to_pydatetime(), closed.to_pydatetime()


def is_early_close(day: date, name: str = DEFAULT_CALENDAR) -> bool:
    """Whether session ``day`` closes earlier than the regular close."""
    cal = _checked(name, day).calendar
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
    local = at.astimezone(exchange_timezone(name))
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
