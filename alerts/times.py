"""Times in SLA records and messages: parsing what Airflow hands over, UTC text, human durations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def as_datetime(value: Any) -> datetime | None:
    """A timezone-aware UTC datetime from a datetime, epoch seconds or ISO-8601 text (naive = UTC); None if empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_z(value: datetime | None) -> str | None:
    """UTC ISO-8601 with a ``Z`` suffix."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def format_duration(seconds: float) -> str:
    """``3725`` -> ``"1h 2m 5s"``."""
    seconds = round(max(0.0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs or not seconds else "",
    ]
    return " ".join(p for p in parts if p)
