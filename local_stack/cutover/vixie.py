"""Fire times of a crontab line under Vixie cron (Debian's ``cron``), DST changes included.

Vixie cron wakes once a minute and compares the wall-clock minute with its "virtual" minute (``cron.c``, main
loop). When the wall clock moved by one minute it runs the jobs of that minute; otherwise the difference
``timeDiff`` (wall-clock minutes) picks one of its cases:

* ``0 < timeDiff <= 5`` (woke up late): every job of every missed minute runs now;
* ``5 < timeDiff <= 180`` (clocks sprang forward): the wildcard jobs of the new minute run, and the *fixed-time*
  jobs of every skipped minute run now, "immediately after the jump";
* ``-180 < timeDiff <= 0`` (clocks fell back): until the wall clock is past the minutes already seen, only the
  *wildcard* jobs run (once per wall-clock minute, so again in the repeated hour); fixed-time jobs do not run twice;
* otherwise (a jump of more than three hours): the virtual clock is reset and the jobs of the new minute run.

A wildcard job has ``*`` at the start of its minute or hour field (``5 * * * *``, ``*/30 7-20 * * 1-5``); every
other job is a fixed-time job. Times are to the minute: cron starts the catch-up runs within seconds of the jump.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from local_stack.cutover.expression import CronExpression
from local_stack.cutover.zones import MINUTE, next_transition, offset

LATE_WAKEUP_MINUTES = 5      # timeDiff up to this: case 1 (run everything missed)
LARGE_JUMP_MINUTES = 180     # |timeDiff| beyond this: the virtual clock is reset
_SEGMENT_SCAN = timedelta(days=400)
_LEAD_IN = timedelta(days=1)  # start the walk a day early so a DST change just before ``start`` is handled
DEFAULT_HORIZON = timedelta(days=366 * 30)


@dataclass(frozen=True)
class Fire:
    """One run: the instant (UTC) and the wall-clock minute it was scheduled for.

    ``note`` is ``""`` for a run at its own wall-clock minute, ``"catch-up"`` for a fixed-time job of a skipped
    minute run at the jump, ``"repeat"`` for a run in a repeated wall-clock interval (a wildcard job in the
    repeated hour, or any job after a fall-back of more than three hours).
    """

    at: datetime
    wall: datetime
    note: str = ""


def wall_matches(expression: CronExpression, low: datetime, high: datetime) -> Iterator[datetime]:
    """Wall-clock minutes in ``[low, high)`` (naive) the expression fires on, ascending."""
    hours, minutes = sorted(expression.hours), sorted(expression.minutes)
    day = low.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < high:
        if expression.day_matches(day):
            for hour in hours:
                for minute in minutes:
                    when = day.replace(hour=hour, minute=minute)
                    if when >= high:
                        return
                    if when >= low:
                        yield when
        day += timedelta(days=1)


def _segments(zone: ZoneInfo, start: datetime, horizon: datetime) -> Iterator[tuple[datetime, datetime, timedelta,
                                                                                     timedelta]]:
    """``(begin, end, offset, offset before begin)`` of the stretches of constant UTC offset from ``start``."""
    begin, before = start, offset(zone, start)
    while begin < horizon:
        transition = next_transition(zone, begin + MINUTE, _SEGMENT_SCAN)
        end = transition.at if transition else min(begin + _SEGMENT_SCAN, horizon)
        current = offset(zone, begin)
        yield begin, end, current, before
        before = current
        begin = end


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def vixie_fires(expression: CronExpression, zone: str, start: datetime,
                horizon: timedelta = DEFAULT_HORIZON) -> Iterator[Fire]:
    """Runs of ``expression`` in ``zone`` at or after ``start`` (aware), in order, up to ``start + horizon``."""
    tz = ZoneInfo(zone)
    start = start.astimezone(UTC).replace(second=0, microsecond=0)
    first = start - _LEAD_IN
    for begin, end, current, before in _segments(tz, first, start + horizon):
        for fire in _segment_fires(expression, begin, end, current, before):
            if fire.at >= start:
                yield fire


def _segment_fires(expression: CronExpression, begin: datetime, end: datetime, current: timedelta,
                   before: timedelta) -> Iterator[Fire]:
    """The runs in one stretch of constant offset ``current``; ``before`` is the offset just before it."""
    wall_begin, wall_end = _naive(begin) + current, _naive(end) + current
    time_diff = int((current - before) / MINUTE) + 1  # wall-clock minutes between cron's two wakeups
    if time_diff > 1:  # clocks jumped forward at ``begin``: cron catches up on the skipped minutes at ``begin``
        skipped_from = _naive(begin) + before
        late_wakeup = time_diff <= LATE_WAKEUP_MINUTES                      # case 1: every job
        dst_jump = time_diff <= LARGE_JUMP_MINUTES and not expression.is_wildcard  # case 2: fixed-time jobs
        if late_wakeup or dst_jump:
            for wall in wall_matches(expression, skipped_from, wall_begin):
                yield Fire(begin, wall, "catch-up")
    repeated_until = wall_begin
    if time_diff <= 0:  # clocks fell back at ``begin``: wall minutes up to ``repeated_until`` come round again
        repeated_until = _naive(begin) + before
    for wall in wall_matches(expression, wall_begin, wall_end):
        at = (wall - current).replace(tzinfo=UTC)
        if wall < repeated_until:
            if time_diff <= -LARGE_JUMP_MINUTES:
                yield Fire(at, wall, "repeat")        # virtual clock reset: everything runs again
            elif expression.is_wildcard:
                yield Fire(at, wall, "repeat")        # wildcard jobs run per wall-clock minute
            continue                                  # fixed-time jobs already ran in the first pass
        yield Fire(at, wall)
