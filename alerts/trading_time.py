"""Trading-day time: elapsed seconds that skip whole non-session days of an exchange, in its own time zone.

:func:`trading_seconds` and :func:`trading_due` are pure: they take the time zone and a session predicate.
:func:`session_predicate` gives the predicate of an ``exchange_calendars`` calendar, built once per process over a
window around the dates asked about and rebuilt wider (never per lookup) when a date falls outside it; building
takes a fraction of a second. Without a calendar every day counts: plain elapsed time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SessionPredicate = Callable[[date], bool]
BACK_DAYS = 400     # a (re)build covers this many days before the earliest date asked about
AHEAD_DAYS = 400    # ... and this many after the latest
MAX_WALK_DAYS = 3700  # trading_due gives up after ten years of days (a calendar without sessions)


class CalendarUnknown(ValueError):
    """No such ``exchange_calendars`` calendar."""


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of ``day`` in ``zone`` as a UTC instant (DST days are 23 or 25 hours long)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def trading_seconds(start: datetime, end: datetime, zone: ZoneInfo, is_session: SessionPredicate | None) -> float:
    """Real seconds from ``start`` to ``end`` that fall on session days of ``zone`` (0 when ``end <= start``)."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        return 0.0
    if is_session is None:
        return (end - start).total_seconds()
    total = 0.0
    day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    while day <= last:
        if is_session(day):
            lo = max(start, _midnight(day, zone))
            hi = min(end, _midnight(day + timedelta(days=1), zone))
            total += max(0.0, (hi - lo).total_seconds())
        day += timedelta(days=1)
    return total


def trading_due(start: datetime, budget: timedelta, zone: ZoneInfo, is_session: SessionPredicate | None) -> datetime:
    """The first instant (UTC) at which ``budget`` of trading-day time has passed since ``start``."""
    start = _utc(start)
    if is_session is None or budget <= timedelta(0):
        return start + budget
    left = budget
    day = start.astimezone(zone).date()
    for _ in range(MAX_WALK_DAYS):
        if is_session(day):
            lo = max(start, _midnight(day, zone))
            hi = _midnight(day + timedelta(days=1), zone)
            if hi - lo >= left:
                return lo + left
            left -= max(timedelta(0), hi - lo)
        day += timedelta(days=1)
    raise ValueError(f"no session for {MAX_WALK_DAYS} days after {start.isoformat()}")


@dataclass(frozen=True)
class _Built:
    first: date
    last: date
    sessions: frozenset[date]
    timezone: str


_lock = threading.Lock()
_built: dict[str, _Built] = {}


def _build(name: str, first: date, last: date) -> _Built:
    import exchange_calendars as xcals

    try:
        cal = xcals.get_calendar(name, start=first.isoformat(), end=last.isoformat())
    except xcals.errors.InvalidCalendarName:
        known = ", ".join(sorted(xcals.get_calendar_names(include_aliases=False))[:12])
        raise CalendarUnknown(f"unknown exchange calendar {name!r} (exchange_calendars names such as "
                              f"{known}, ...; or 'none' for plain 24/7 age)") from None
    return _Built(first, last, frozenset(d.date() for d in cal.sessions), str(cal.tz))


def _covering(name: str, day: date) -> _Built:
    with _lock:
        built = _built.get(name)
        if built is None or not (built.first <= day <= built.last):
            first = min(day, built.first if built else day) - timedelta(days=BACK_DAYS)
            last = max(day, built.last if built else day) + timedelta(days=AHEAD_DAYS)
            built = _built[name] = _build(name, first, last)
        return built


def session_predicate(name: str) -> SessionPredicate:
    """``day -> is a session of calendar name`` (the calendar is built lazily, once, and widened on demand)."""
    _covering(name, datetime.now(UTC).date())

    def is_session(day: date) -> bool:
        return day in _covering(name, day).sessions

    return is_session


def calendar_timezone(name: str) -> str:
    """The IANA time zone of calendar ``name`` (builds it; :class:`CalendarUnknown` for a bad name)."""
    return _covering(name, datetime.now(UTC).date()).timezone


def clear_cache() -> None:
    """Forget the built calendars (tests)."""
    with _lock:
        _built.clear()
