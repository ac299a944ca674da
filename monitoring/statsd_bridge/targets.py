"""Resolved destinations: what a (name, tags, type) turns into after mapping, cached for the hot path."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from monitoring.statsd_bridge.series import Child

DROP, COUNTER, GAUGE, HISTOGRAM, SUMMARY, CONFLICT, EMPTY_NAME, LIMITED = range(8)
EVENT_TYPE = {COUNTER: "counter", GAUGE: "gauge", HISTOGRAM: "observer", SUMMARY: "observer"}


class Target:
    """Where events of one key go, plus hit counters folded into :class:`EventStats` later."""

    __slots__ = (
        "child",
        "event_type",
        "hits",
        "limit",
        "line_stats",
        "ms",
        "op",
        "rejected",
        "scale",
        "tag_errors",
        "tagged",
        "ttl",
        "unmapped",
    )

    def __init__(
        self,
        op: int,
        child: Child | None = None,
        *,
        event_type: str = "",
        scale: float | None = None,
        ms: bool = False,
        unmapped: bool = False,
        ttl: float = 0.0,
        limit: str = "",
    ) -> None:
        self.op = op
        self.limit = limit  # LIMITED: which series cap refused the series (per_metric | total)
        self.child = child
        self.event_type = event_type
        self.scale = scale
        self.ms = ms
        self.unmapped = unmapped
        self.ttl = ttl
        self.hits = 0
        self.rejected = 0
        self.line_stats = False
        self.tagged = False
        self.tag_errors = 0


@dataclass(slots=True)
class EventStats:
    """Counters behind ``statsd_exporter_events_*`` (before and after mapping)."""

    events: Counter[str] = field(default_factory=Counter)
    unmapped: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    conflicts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    samples: int = 0
    tags: int = 0
    tag_errors: int = 0
    limited: Counter[str] = field(default_factory=Counter)  # events dropped by a series cap, per cap

    def fold(self, target: Target) -> None:
        """Move a target's hit counts into the totals."""
        hits = target.hits
        if not hits:
            return
        target.hits = 0
        rejected, target.rejected = target.rejected, 0
        if target.line_stats:
            self.samples += hits
            self.tags += hits if target.tagged else 0
            self.tag_errors += hits * target.tag_errors
        op = target.op
        if op == DROP:
            self.actions["drop"] += hits
            return
        if op == EMPTY_NAME:
            self.errors["empty_metric_name"] += hits
            return
        if target.unmapped:
            self.unmapped += hits
        else:
            self.actions["map"] += hits
        if op == LIMITED:
            self.limited[target.limit] += hits
        elif op == CONFLICT:
            self.conflicts[target.event_type] += hits
        else:
            self.events[target.event_type] += hits - rejected
            if rejected:
                self.errors["illegal_negative_counter"] += rejected
