"""Time zones: the machine's own zone (the default for a crontab without ``CRON_TZ=``) and UTC-offset changes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTE = timedelta(minutes=1)
_SCAN_STEP = timedelta(hours=1)


@dataclass(frozen=True)
class Transition:
    """The UTC offset of ``zone`` changes at ``at`` (UTC, the first minute of the new offset)."""

    zone: str
    at: datetime
    before: timedelta
    after: timedelta

    @property
    def spring_forward(self) -> bool:
        """Clocks jump ahead (a wall-clock interval is skipped)."""
        return self.after > self.before

    @property
    def change(self) -> timedelta:
        """How far the wall clock jumps (positive forward, negative back)."""
        return self.after - self.before

    @property
    def kind(self) -> str:
        """``spring-forward`` or ``fall-back``."""
        return "spring-forward" if self.spring_forward else "fall-back"


def machine_zone() -> tuple[str, str]:
    """The zone this machine's cron daemon would use and where that came from: ``TZ``, ``/etc/localtime``,
    ``/etc/timezone``, or UTC when none names a zone."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and _valid(tz):
        return tz, "the TZ environment variable"
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            name = target.split("zoneinfo/", 1)[1]
            if _valid(name):
                return name, "/etc/localtime"
    timezone_file = Path("/etc/timezone")
    if timezone_file.is_file():
        name = timezone_file.read_text().strip()
        if _valid(name):
            return name, "/etc/timezone"
    return "UTC", "no zone configured on this machine"


def _valid(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def offset(zone: ZoneInfo, at: datetime) -> timedelta:
    """UTC offset of ``zone`` at the instant ``at``."""
    value = at.astimezone(zone).utcoffset()
    assert value is not None
    return value


def next_transition(zone: ZoneInfo, after: datetime, within: timedelta) -> Transition | None:
    """The first offset change at or after ``after`` and before ``after + within``, to the minute."""
    start = after.astimezone(UTC).replace(second=0, microsecond=0)
    current = offset(zone, start)
    low = start
    end = start + within
    while low < end:
        high = min(low + _SCAN_STEP, end)
        if offset(zone, high) != current:
            while high - low > MINUTE:  # bisect to the first minute of the new offset
                mid = low + (high - low) // 2
                mid = mid.replace(second=0, microsecond=0)
                if offset(zone, mid) == current:
                    low = mid
                else:
                    high = mid
            return Transition(str(zone.key), high, current, offset(zone, high))
        low = high
    return None


def next_transitions(zones: list[str], after: datetime, within: timedelta = timedelta(days=731)) -> list[Transition]:
    """For each zone, its next spring-forward and its next fall-back after ``after`` (zones without DST: none)."""
    found: list[Transition] = []
    for name in dict.fromkeys(zones):
        zone = ZoneInfo(name)
        seen: set[str] = set()
        cursor, end = after, after + within
        while len(seen) < 2 and cursor < end:
            transition = next_transition(zone, cursor, end - cursor)
            if transition is None:
                break
            if transition.kind not in seen:
                seen.add(transition.kind)
                found.append(transition)
            cursor = transition.at + MINUTE
    return sorted(found, key=lambda t: (t.at, t.zone))
