"""StatsD line protocol: one line in, typed events out (statsd_exporter's parsing rules).

Tag styles: DogStatsD (``|#k:v``), InfluxDB (``name,k=v``), Librato (``name#k=v``) and SignalFx
(``na[k=v]me``). Invalid input yields no event and bumps a counter in :class:`ParseStats`; it never raises.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from monitoring.statsd_bridge.escape import escape_metric_name
from monitoring.statsd_bridge.values import go_int_truncate, parse_go_float

COUNTER = "counter"
GAUGE = "gauge"
OBSERVER = "observer"
OBSERVER_TYPES = frozenset(("ms", "h", "d"))
MAX_COMPONENTS = 8


@dataclass(slots=True)
class Event:
    """One sample: ``count`` > 1 stands for that many identical observations (``ms|h|d`` with ``|@rate``)."""

    kind: str
    name: str
    value: float
    labels: dict[str, str]
    relative: bool = False
    count: int = 1


@dataclass(slots=True)
class ParseStats:
    """Counters behind statsd_exporter's ``samples_total``, ``sample_errors_total``, ``tags_total``..."""

    samples: int = 0
    tags: int = 0
    tag_errors: int = 0
    sample_errors: Counter[str] = field(default_factory=Counter)


class LineParser:
    """Parses StatsD lines with the enabled tag styles (all four by default, like statsd_exporter)."""

    def __init__(
        self, dogstatsd: bool = True, influxdb: bool = True, librato: bool = True, signalfx: bool = True
    ) -> None:
        self.dogstatsd = dogstatsd
        self.influxdb = influxdb
        self.librato = librato
        self.signalfx = signalfx
        self.name_delimiters = ("#" if librato else "") + ("," if influxdb else "")

    def parse_name_and_tags(self, name: str, labels: dict[str, str], stats: ParseStats) -> str:
        """Split tags off a metric name into ``labels``; return the bare name."""
        if self.signalfx:
            start, end = name.find("["), name.find("]")
            if start != -1 and end != -1:
                if end < start:  # upstream would slice out of range; treat as unparseable tags
                    stats.tag_errors += 1
                    return name
                _parse_tag_list(name[start + 1 : end], "=", labels, stats, strip_hash=False)
                return name[:start] + name[end + 1 :]
            if start != -1 or end != -1:
                stats.tag_errors += 1
                return name
        if self.name_delimiters:
            for index, char in enumerate(name):
                if char in self.name_delimiters:
                    _parse_tag_list(name[index + 1 :], "=", labels, stats, strip_hash=False)
                    return name[:index]
        return name

    def parse_line(self, line: str, stats: ParseStats) -> list[Event]:
        """Parse one line (no newline) into events; invalid lines give ``[]`` and count an error."""
        if not line:
            return []
        head, sep, rest = line.partition(":")
        if not sep or not head:
            stats.sample_errors["malformed_line"] += 1
            return []
        labels: dict[str, str] = {}
        metric = self.parse_name_and_tags(head, labels, stats)
        dogstatsd_tags = "|#" in rest
        if dogstatsd_tags and labels:
            stats.sample_errors["mixed_tagging_styles"] += 1
            return []
        parts = rest.split("|", 2)
        if len(parts) < 2:
            stats.sample_errors["not_enough_parts_after_colon"] += 1
            return []
        if ":" in parts[0]:
            if parts[1] not in OBSERVER_TYPES:
                stats.sample_errors["invalid_extended_aggregate_type"] += 1
                return []
            suffix = rest.partition("|")[2]
            samples = [f"{value}|{suffix}" for value in parts[0].split(":")]
        elif dogstatsd_tags:
            samples = [rest]
        else:
            samples = rest.split(":")
        events: list[Event] = []
        for sample in samples:
            event = self._parse_sample(sample, metric, labels, stats)
            if event is not None:
                events.append(event)
        return events

    def _parse_sample(
        self, sample: str, metric: str, labels: dict[str, str], stats: ParseStats
    ) -> Event | None:
        stats.samples += 1
        components = sample.split("|")
        if len(components) < 2 or len(components) > MAX_COMPONENTS:
            stats.sample_errors["malformed_component"] += 1
            return None
        value_text, stat_type = components[0], components[1]
        relative = value_text[:1] in ("+", "-")
        value, ok = parse_go_float(value_text)
        if not ok:
            stats.sample_errors["malformed_value"] += 1
            return None
        count = 1
        extras = components[2:]
        if "" in extras:
            stats.sample_errors["malformed_component"] += 1
            return None
        for component in extras:
            first = component[0]
            if first == "@":
                rate, rate_ok = parse_go_float(component[1:])
                if not rate_ok:  # a syntax error reads as 0 (then 1), an overflow as +-Inf, like Go
                    stats.sample_errors["invalid_sample_factor"] += 1
                if rate == 0:
                    rate = 1.0
                if stat_type == "c":
                    value /= rate
                elif stat_type in OBSERVER_TYPES:
                    count = go_int_truncate(1 / rate)
            elif first == "#":
                if self.dogstatsd:
                    _parse_tag_list(component[1:], ":", labels, stats, strip_hash=True)
            elif first == "c":
                if not component.startswith("c:") or len(component) <= 2:
                    stats.sample_errors["malformed_container_id"] += 1
                    return None
                labels["container_id"] = component[2:]
            else:
                stats.sample_errors["invalid_sample_factor"] += 1
                return None
        if labels:
            stats.tags += 1
        if count <= 0:
            return None
        return _build_event(stat_type, metric, value, relative, labels, count, stats)


def _build_event(
    stat_type: str,
    metric: str,
    value: float,
    relative: bool,
    labels: dict[str, str],
    count: int,
    stats: ParseStats,
) -> Event | None:
    if stat_type == "c":
        return Event(COUNTER, metric, value, labels)
    if stat_type == "g":
        return Event(GAUGE, metric, value, labels, relative=relative)
    if stat_type == "ms":
        return Event(OBSERVER, metric, value / 1000, labels, count=count)
    if stat_type in ("h", "d"):
        return Event(OBSERVER, metric, value, labels, count=count)
    stats.sample_errors["illegal_event"] += count  # sets ("s") and unknown types are not supported
    return None


def _parse_tag_list(
    text: str, separator: str, labels: dict[str, str], stats: ParseStats, strip_hash: bool
) -> None:
    """Parse ``k<sep>v,k2<sep>v2`` into ``labels`` (keys escaped); a trailing empty tag is ignored."""
    tags = text.split(",")
    if tags and tags[-1] == "":
        tags.pop()
    for tag in tags:
        if strip_hash and tag[:1] == "#":
            tag = tag[1:]
        if not tag:
            stats.tag_errors += 1
            continue
        key, sep, value = tag.partition(separator)
        if not sep or not key or not value:
            stats.tag_errors += 1
            continue
        labels[escape_metric_name(key)] = value
