"""Durations in the alert configs: ``"45m"``, ``"1h30m"``, ``"90s"``, ``"28d"`` -> positive timedeltas."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*" + "".join(rf"(?:(\d+(?:\.\d+)?){unit})?\s*" for unit in "dhms") + "$")


def parse_duration(value: Any) -> timedelta:
    """``"45m"``, ``"1h30m"``, ``"90s"``, ``"28d"`` (or a timedelta) -> timedelta; zero, negative or no unit: error."""
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, str) and value.strip().startswith("-"):
        raise ValueError(f"must be positive, got {value!r}")
    elif isinstance(value, str) and (m := _DURATION.match(value)) and any(m.groups()):
        d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        delta = timedelta(days=d, hours=h, minutes=mi, seconds=s)
    else:
        raise ValueError(f"expected a duration with units such as '45m', '1h30m' or '90s', got {value!r}")
    if delta <= timedelta(0):
        raise ValueError(f"must be positive, got {value!r}")
    return delta


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
