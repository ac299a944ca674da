"""Metric and label name escaping with statsd_exporter's rules."""

from __future__ import annotations

_VALID = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_CACHE: dict[str, str] = {}
_CACHE_MAX = 50_000


def _escape(name: str) -> str:
    out: list[str] = []
    if "0" <= name[0] <= "9":
        out.append("_")
    prev = ""
    for ch in name:
        if ch in _VALID:
            out.append(ch)
        elif ch == "-" and prev == "-":
            continue  # a run of dashes collapses to a single underscore
        else:
            out.append("_")
        prev = ch
    return "".join(out)


def escape_metric_name(name: str) -> str:
    """Replace every character outside ``[a-zA-Z0-9_]`` with ``_`` and prefix a leading digit with ``_``."""
    cached = _CACHE.get(name)
    if cached is not None:
        return cached
    result = _escape(name) if name else ""
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[name] = result
    return result


def is_valid_metric_name(name: str) -> bool:
    """True for a non-empty legacy Prometheus metric name (``[a-zA-Z_][a-zA-Z0-9_]*``)."""
    return bool(name) and not ("0" <= name[0] <= "9") and _VALID.issuperset(name)


def is_valid_label_name(name: str) -> bool:
    """True for a label name Prometheus accepts from a target (valid and not reserved ``__``)."""
    return is_valid_metric_name(name) and not name.startswith("__")
