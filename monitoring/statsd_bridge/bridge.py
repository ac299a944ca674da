"""The bridge core: StatsD packets in, Prometheus series updated (thread-safe, never raises on input).

Hot path: a line ``name,tags:value|type`` with a single plain sample is resolved through a cache keyed by
``(name-and-tags, type)``; everything else (sample rates, DogStatsD tags, several samples, errors) goes
through the full parser in :mod:`monitoring.statsd_bridge.line`. Both paths give identical results.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from monitoring.statsd_bridge.config_model import Mapping
from monitoring.statsd_bridge.escape import escape_metric_name
from monitoring.statsd_bridge.line import COUNTER as EV_COUNTER
from monitoring.statsd_bridge.line import GAUGE as EV_GAUGE
from monitoring.statsd_bridge.line import Event, LineParser, ParseStats
from monitoring.statsd_bridge.mapper import MetricMapper
from monitoring.statsd_bridge.registry import Registry, SeriesLimited, SeriesLimits
from monitoring.statsd_bridge.targets import (
    CONFLICT,
    COUNTER,
    DROP,
    EMPTY_NAME,
    EVENT_TYPE,
    GAUGE,
    HISTOGRAM,
    LIMITED,
    SUMMARY,
    EventStats,
    Target,
)
from monitoring.statsd_bridge.values import parse_go_float

_FAST_TYPES = {"c": EV_COUNTER, "g": EV_GAUGE, "ms": "observer", "h": "observer", "d": "observer"}
_NUMBER_CHARS = frozenset("0123456789.eE+-")
_INF = float("inf")


class Bridge:
    """Turns StatsD datagrams (or TCP lines) into series in a :class:`Registry`."""

    def __init__(
        self,
        mapper: MetricMapper,
        parser: LineParser | None = None,
        reserved_names: frozenset[str] = frozenset(),
        cache_size: int = 200_000,
        limits: SeriesLimits | None = None,
    ) -> None:
        self.mapper = mapper
        self.parser = parser or LineParser()
        self.lock = threading.Lock()
        self.registry = Registry(reserved_names, limits)
        self.parse_stats = ParseStats()
        self.event_stats = EventStats()
        self.lines = 0
        self.cache_size = cache_size
        self._fast: dict[tuple[str, str], Target] = {}
        self._slow: dict[tuple[str, str, tuple[tuple[str, str], ...]], Target] = {}
        self._unmapped = Mapping(index=-1, match="", name="", labels={}, ttl=mapper.defaults.ttl)

    def handle_packet(self, data: bytes, now: float | None = None) -> None:
        """Process one datagram: newline-separated lines, each independently valid or dropped."""
        try:
            lines = data.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            lines = self._decode_lines(data.split(b"\n"))
        self.handle_lines(lines, now)

    def handle_lines(self, lines: list[str], now: float | None = None) -> None:
        """Process already-split lines (``None`` stands for a line that was not valid UTF-8)."""
        now = time.monotonic() if now is None else now
        fast = self._fast
        with self.lock:
            self.lines += len(lines)
            for line in lines:
                if line is None:
                    self.parse_stats.sample_errors["malformed_line"] += 1
                    continue
                head, _, rest = line.partition(":")
                value_text, _, kind = rest.partition("|")
                target = fast.get((head, kind))
                if target is None or ":" in value_text or not _NUMBER_CHARS.issuperset(value_text):
                    self._slow_line(line, head, value_text, kind, now)
                    continue
                try:
                    value = float(value_text)
                except ValueError:
                    self._slow_line(line, head, value_text, kind, now)
                    continue
                if value == _INF or value == -_INF:
                    self._slow_line(line, head, value_text, kind, now)
                    continue
                self._apply(target, value, value_text[:1] in ("+", "-"), 1, now)

    def _apply(self, target: Target, value: float, relative: bool, times: int, now: float) -> None:
        target.hits += times
        op = target.op
        if op == COUNTER:
            if target.scale is not None:
                value *= target.scale
            if value < 0:
                target.rejected += 1
                return
            child = target.child
            child.value += value  # type: ignore[union-attr]
        elif op == GAUGE:
            if target.scale is not None:
                value *= target.scale
            child = target.child
            if relative:
                child.value += value  # type: ignore[union-attr]
            else:
                child.value = value  # type: ignore[union-attr]
        elif op in (HISTOGRAM, SUMMARY):
            if target.ms:
                value /= 1000
            if target.scale is not None:
                value *= target.scale
            child = target.child
            if op == HISTOGRAM:
                child.observe(value, times)  # type: ignore[union-attr]
            else:
                child.observe(value, times, now)  # type: ignore[union-attr]
        else:
            return
        if target.ttl:
            child.touched = now  # type: ignore[union-attr]

    def _slow_line(self, line: str, head: str, value_text: str, kind: str, now: float) -> None:
        if head and kind in _FAST_TYPES and ":" not in value_text:
            value, ok = parse_go_float(value_text)
            if ok:
                target = self._fast.get((head, kind))
                if target is None and len(self._fast) < self.cache_size:
                    target = self._fast_target(head, kind)
                if target is not None:
                    self._apply(target, value, value_text[:1] in ("+", "-"), 1, now)
                    if target.op == LIMITED:  # never cached: count it now
                        self.event_stats.fold(target)
                    return
        for event in self.parser.parse_line(line, self.parse_stats):
            self.handle_event(event, now)

    def _fast_target(self, head: str, kind: str) -> Target:
        stats = ParseStats()
        labels: dict[str, str] = {}
        name = self.parser.parse_name_and_tags(head, labels, stats)
        target = self._resolve(name, _FAST_TYPES[kind], labels, ms=kind == "ms")
        target.line_stats = True
        target.tagged = bool(labels)
        target.tag_errors = stats.tag_errors
        if target.op != LIMITED:  # a refused series is retried on its next event (a cap may have room then)
            self._fast[(head, kind)] = target
        return target

    def handle_event(self, event: Event, now: float | None = None) -> None:
        """Map and record one parsed event."""
        now = time.monotonic() if now is None else now
        key = (event.name, event.kind, tuple(sorted(event.labels.items())))
        target = self._slow.get(key)
        cached = target is not None
        if target is None:
            target = self._resolve(event.name, event.kind, event.labels, ms=False)
            if len(self._slow) < self.cache_size and target.op != LIMITED:
                self._slow[key] = target
                cached = True
        self._apply(target, event.value, event.relative, event.count, now)
        if not cached:  # its hits would be lost with the target
            self.event_stats.fold(target)

    def _resolve(self, name: str, event_kind: str, event_labels: dict[str, str], ms: bool) -> Target:
        result = self.mapper.get_mapping(name, event_kind)
        if result is None:
            mapping, metric, labels = self._unmapped, escape_metric_name(name), dict(event_labels)
        else:
            mapping = result.mapping
            if mapping.action == "drop":
                return Target(DROP)
            if not result.name:
                return Target(EMPTY_NAME)
            metric, labels = escape_metric_name(result.name), dict(event_labels)
            for key, value in result.labels.items():
                if not (mapping.honor_labels and key in labels):
                    labels[key] = value
        op = {EV_COUNTER: COUNTER, EV_GAUGE: GAUGE}.get(event_kind)
        if op is None:
            observer = mapping.observer_type or self.mapper.defaults.observer_type
            op = HISTOGRAM if observer == "histogram" else SUMMARY
        kind = {COUNTER: "counter", GAUGE: "gauge", HISTOGRAM: "histogram", SUMMARY: "summary"}[op]
        label_key = tuple(sorted((k, v) for k, v in labels.items() if v != ""))
        child = self.registry.child(metric, kind, label_key, mapping, self.mapper.defaults)
        if isinstance(child, SeriesLimited):
            return Target(LIMITED, event_type=EVENT_TYPE[op], unmapped=result is None, limit=child.limit)
        return Target(
            CONFLICT if child is None else op,
            child,
            event_type=EVENT_TYPE[op],
            scale=mapping.scale,
            ms=ms,
            unmapped=result is None,
            ttl=mapping.ttl,
        )

    @staticmethod
    def _decode_lines(raw_lines: Iterable[bytes]) -> list[str]:
        out: list[str] = []
        for raw in raw_lines:
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                out.append(None)  # type: ignore[arg-type]
        return out

    def fold_stats(self) -> None:
        """Move hit counts of cached targets into :attr:`event_stats` (call with :attr:`lock` held)."""
        for target in self._fast.values():
            self.event_stats.fold(target)
        for target in self._slow.values():
            self.event_stats.fold(target)

    def expire(self, now: float | None = None) -> int:
        """Drop series past their TTL; the caches are reset if anything went."""
        now = time.monotonic() if now is None else now
        with self.lock:
            removed = self.registry.remove_stale(now)
            if removed:
                self.clear_caches()
            return removed

    def clear_caches(self) -> None:
        """Forget resolved targets (after a reload or an expiry); call with :attr:`lock` held."""
        self.fold_stats()
        self._fast.clear()
        self._slow.clear()

    def reload(self, mapper: MetricMapper) -> None:
        """Switch to a new mapping; existing series keep their values, new events use the new rules."""
        with self.lock:
            self.clear_caches()
            self.mapper = mapper
            self._unmapped = Mapping(index=-1, match="", name="", labels={}, ttl=mapper.defaults.ttl)
