"""PromQL fragments shared by the generated rule files (:mod:`alerts.sla_rules`, :mod:`alerts.slo_rules`)."""

from __future__ import annotations

from datetime import timedelta


def counter_increase(series: str, window: str, by: str) -> str:
    """``sum by (<by>)`` of a counter's increase over ``window``, counting the first event of a new series.

    ``increase()`` needs two samples: a series born with value 1 (a DAG's first SLA miss) would show no
    increase, so a series absent ``window`` ago counts with its whole value (see recording.rules.yml).
    """
    return (
        f"sum by ({by}) (\n  ({series} unless {series} offset {window})\n"
        f"  or increase({series}[{window}])\n)"
    )


def duration(value: timedelta) -> str:
    """A timedelta as a Prometheus duration: ``28d``, ``6h``, ``90m``, ``45s``."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
