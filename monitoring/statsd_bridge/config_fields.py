"""Field validators for the mapping file: each names the offending key and value in its error."""

from __future__ import annotations

import itertools
from typing import Any

from monitoring.statsd_bridge.config_model import MappingConfigError, SummaryOptions
from monitoring.statsd_bridge.durations import parse_duration
from monitoring.statsd_bridge.values import parse_go_float

METRIC_TYPES = {"counter": "counter", "gauge": "gauge", "observer": "observer", "timer": "observer"}
ENUMS = {
    "observer_type": ("histogram", "summary"),
    "timer_type": ("histogram", "summary"),
    "match_type": ("glob", "regex"),
    "action": ("map", "drop"),
}


def summary(raw: Any, where: str) -> SummaryOptions | None:
    if raw is None:
        return None
    require_dict(raw, where)
    check_keys(raw, frozenset(("quantiles", "max_age", "age_buckets", "buf_cap")), where)
    return SummaryOptions(
        quantiles=quantiles(raw.get("quantiles"), f"{where}.quantiles"),
        max_age=duration(raw.get("max_age"), f"{where}.max_age"),
        age_buckets=count(raw.get("age_buckets"), f"{where}.age_buckets"),
        buf_cap=count(raw.get("buf_cap"), f"{where}.buf_cap"),
    )


def quantiles(raw: Any, where: str) -> tuple[tuple[float, float], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MappingConfigError(f"{where}: expected a list of {{quantile, error}}")
    result = []
    for i, item in enumerate(raw):
        require_dict(item, f"{where}[{i}]")
        check_keys(item, frozenset(("quantile", "error")), f"{where}[{i}]")
        quantile = number(item.get("quantile", 0.0), f"{where}[{i}].quantile")
        if not 0.0 <= quantile <= 1.0:
            raise MappingConfigError(f"{where}[{i}].quantile: {quantile} is outside [0, 1]")
        result.append((quantile, number(item.get("error", 0.0), f"{where}[{i}].error")))
    return tuple(result)


def buckets(raw: Any, where: str) -> tuple[float, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MappingConfigError(f"{where}: expected a list of numbers")
    buckets = tuple(number(b, f"{where}[{i}]") for i, b in enumerate(raw))
    if any(b >= nxt for b, nxt in itertools.pairwise(buckets)):
        raise MappingConfigError(f"{where}: buckets must be strictly increasing, got {list(buckets)}")
    return buckets


def number(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise MappingConfigError(f"{where}: expected a number, got {raw!r}")
    if isinstance(raw, str):
        value, ok = parse_go_float(raw)
        if not ok:
            raise MappingConfigError(f"{where}: expected a number, got {raw!r}")
        return value
    return float(raw)


def count(raw: Any, where: str) -> int:
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise MappingConfigError(f"{where}: expected a non-negative integer, got {raw!r}")
    return raw


def duration(raw: Any, where: str) -> float:
    if raw is None:
        return 0.0
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise MappingConfigError(f"{where}: expected a duration such as '30s', got {raw!r}")
    if not isinstance(raw, str):
        return float(raw) / 1e9  # a bare number is nanoseconds, as in Go
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise MappingConfigError(f"{where}: {exc}") from None


def enum(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if value is None or value == "":
        return ""
    if value not in ENUMS[key]:
        raise MappingConfigError(f"{where}: invalid {key} {value!r} (one of {', '.join(ENUMS[key])})")
    return str(value)


def metric_type(value: Any, where: str) -> str:
    if value is None or value == "":
        return ""
    if value not in METRIC_TYPES:
        raise MappingConfigError(f"{where}: invalid match_metric_type {value!r} (counter, gauge, observer)")
    return METRIC_TYPES[value]


def text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise MappingConfigError(f"{where}: expected a string, got {type(value).__name__}")


def boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise MappingConfigError(f"{where}: expected true/false, got {value!r}")
    return value


def require_dict(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise MappingConfigError(f"{where}: expected a mapping, got {type(value).__name__}")


def check_keys(raw: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(str(key) for key in raw if key not in allowed)
    if unknown:
        raise MappingConfigError(f"{where}: unknown key(s): {', '.join(unknown)}")
