"""One exported series per label set: counter, gauge, histogram and summary children."""

from __future__ import annotations

import bisect
import math
import random
from collections import deque

MAX_WINDOW_SAMPLES = 2048  # per age bucket; older samples are replaced at random beyond this


class Child:
    """Common state of a series: its labels and, for a TTL, when it was last updated."""

    __slots__ = ("labels", "touched", "ttl")

    def __init__(self, labels: tuple[tuple[str, str], ...], ttl: float) -> None:
        self.labels = labels
        self.ttl = ttl
        self.touched = 0.0


class CounterChild(Child):
    """A monotonically increasing value."""

    __slots__ = ("value",)

    def __init__(self, labels: tuple[tuple[str, str], ...], ttl: float) -> None:
        super().__init__(labels, ttl)
        self.value = 0.0


class GaugeChild(Child):
    """A value that is set, or moved by a relative (``+x``/``-x``) update."""

    __slots__ = ("value",)

    def __init__(self, labels: tuple[tuple[str, str], ...], ttl: float) -> None:
        super().__init__(labels, ttl)
        self.value = 0.0


class HistogramChild(Child):
    """Cumulative buckets (``le``), sum and count."""

    __slots__ = ("bounds", "buckets", "count", "sum")

    def __init__(self, labels: tuple[tuple[str, str], ...], ttl: float, bounds: tuple[float, ...]) -> None:
        super().__init__(labels, ttl)
        self.bounds = bounds
        self.buckets = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float, times: int = 1) -> None:
        """Record ``value`` ``times`` times."""
        index = len(self.bounds) if value != value else bisect.bisect_left(self.bounds, value)
        self.buckets[index] += times
        self.sum += value * times if times != 1 else value
        self.count += times

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper_bound, cumulative_count)`` pairs ending with ``+Inf``."""
        total, out = 0, []
        for bound, hits in zip((*self.bounds, math.inf), self.buckets, strict=True):
            total += hits
            out.append((bound, total))
        return out


class SummaryChild(Child):
    """Quantiles over a sliding window of ``max_age`` split into ``age_buckets`` slices, plus sum and count.

    Quantiles are exact over the retained samples (nearest rank); each slice keeps at most
    :data:`MAX_WINDOW_SAMPLES` samples by reservoir sampling, so memory stays bounded under load.
    """

    __slots__ = ("count", "objectives", "seen", "slice_seconds", "slices", "sum")

    def __init__(
        self,
        labels: tuple[tuple[str, str], ...],
        ttl: float,
        objectives: tuple[float, ...],
        max_age: float,
        age_buckets: int,
    ) -> None:
        super().__init__(labels, ttl)
        self.objectives = objectives
        self.slice_seconds = max_age / age_buckets
        self.slices: deque[tuple[int, list[float]]] = deque(maxlen=age_buckets)
        self.seen = 0
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float, times: int, now: float) -> None:
        """Record ``value`` ``times`` times at monotonic time ``now``."""
        self.sum += value * times if times != 1 else value
        self.count += times
        slot = int(now // self.slice_seconds)
        if not self.slices or self.slices[-1][0] != slot:
            self.slices.append((slot, []))
            self.seen = 0
        samples = self.slices[-1][1]
        for _ in range(min(times, MAX_WINDOW_SAMPLES)):
            self.seen += 1
            if len(samples) < MAX_WINDOW_SAMPLES:
                samples.append(value)
            else:
                pick = random.randrange(self.seen)
                if pick < MAX_WINDOW_SAMPLES:
                    samples[pick] = value

    def quantiles(self, now: float) -> list[tuple[float, float]]:
        """``(quantile, value)`` over the window ending at ``now``; NaN when the window is empty."""
        oldest = int(now // self.slice_seconds) - (self.slices.maxlen or 1) + 1
        window = sorted(v for slot, values in self.slices if slot >= oldest for v in values)
        if not window:
            return [(q, math.nan) for q in self.objectives]
        last = len(window) - 1
        return [(q, window[min(last, max(0, math.ceil(q * len(window)) - 1))]) for q in self.objectives]
