"""The one UTC timestamp format of the project's events: ISO-8601 with microseconds and a ``Z`` suffix.

``2026-03-02T14:30:00.000000Z``: every JSON event (``ts``), the listener's dates and the reports use it, and
``listeners/event.schema.json`` pins it.
"""

from __future__ import annotations

from datetime import UTC, datetime

UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_iso(value: datetime) -> str:
    """``value`` as UTC ISO-8601 with microseconds and ``Z`` (a naive datetime is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(UTC_FORMAT)


def utc_now_iso() -> str:
    """The current UTC time in the event format."""
    return datetime.now(UTC).strftime(UTC_FORMAT)
