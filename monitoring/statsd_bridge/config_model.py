"""Typed objects for the statsd_exporter mapping file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DEFAULT_QUANTILES = ((0.5, 0.05), (0.9, 0.01), (0.99, 0.001))

_FIRST_SEGMENT = r"(?:\*|[a-zA-Z_](?:-*[a-zA-Z0-9_])*)"
_NEXT_SEGMENT = r"(?:\*|[a-zA-Z0-9_](?:-*[a-zA-Z0-9_])*)"
GLOB_RE = re.compile(rf"{_FIRST_SEGMENT}(?:\.{_NEXT_SEGMENT})*", re.ASCII)
_TEMPLATE_REF = r"\$\{?[0-9]+\}?"
METRIC_NAME_RE = re.compile(rf"(?:[a-zA-Z_]|{_TEMPLATE_REF})(?:[a-zA-Z0-9_]|{_TEMPLATE_REF})*", re.ASCII)
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]+", re.ASCII)


class MappingConfigError(ValueError):
    """A mapping file that statsd_exporter would refuse (or that would make it fail later)."""


@dataclass(slots=True)
class SummaryOptions:
    """Quantile objectives and sliding window of a summary (``max_age`` in seconds, 0 = default)."""

    quantiles: tuple[tuple[float, float], ...] = ()
    max_age: float = 0.0
    age_buckets: int = 0
    buf_cap: int = 0


@dataclass(slots=True)
class Defaults:
    """The ``defaults:`` section after statsd_exporter's fallbacks are applied."""

    observer_type: str = ""
    match_type: str = "glob"
    glob_disable_ordering: bool = False
    ttl: float = 0.0
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    summary: SummaryOptions = field(default_factory=lambda: SummaryOptions(quantiles=DEFAULT_QUANTILES))


@dataclass(slots=True)
class Mapping:
    """One ``mappings[]`` entry after defaults are applied."""

    index: int
    match: str
    name: str
    labels: dict[str, str]
    match_type: str = "glob"
    action: str = "map"
    match_metric_type: str = ""
    observer_type: str = ""
    buckets: tuple[float, ...] | None = None
    summary: SummaryOptions | None = None
    ttl: float = 0.0
    scale: float | None = None
    honor_labels: bool = False
    help: str = ""


@dataclass(slots=True)
class MapperConfig:
    """A whole mapping file."""

    defaults: Defaults
    mappings: list[Mapping]
    warnings: list[str] = field(default_factory=list)


UNMAPPED = Mapping(index=-1, match="", name="", labels={})
