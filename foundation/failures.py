"""One way to report that an observability path failed: a metric, a JSON event, never an exception.

Every path that watches the pipeline (listener hooks, StatsD sends, the event log, lineage, alert submission
and delivery, the domain's own metrics) calls :func:`report_failure` when its own work fails. The failure is
counted as ``pmx.observability.failure{component, reason}`` and written as an ``observability_failure`` event,
which ``scripts/error_monitor.py`` counts per ``component:reason``. The caller's work goes on.
"""

from __future__ import annotations

import threading
from typing import Any

from foundation.redaction import bounded

_busy = threading.local()


def report_failure(component: str, reason: str, exc: BaseException | None = None, *, metric: bool = True,
                   **context: Any) -> None:
    """Count one failure of ``component`` (metric + ``observability_failure`` event); never raises.

    :param component: the failing part (``listener``, ``metrics``, ``event_log``, ``lineage``, ``alerts``...).
    :param reason: a short, bounded word for what failed (``submit``, ``deliver``, ``mask``...).
    :param metric: False when the caller counts the metric itself (the StatsD client reporting its own failure).
    :param context: extra fields for the event (ids, never secrets).
    """
    if getattr(_busy, "active", False):
        return  # a failure while reporting a failure: no recursion
    _busy.active = True
    try:
        if metric:
            try:
                from foundation.metrics import get_client

                get_client().incr("observability.failure", tags={"component": component, "reason": reason})
            except Exception:
                pass
        try:
            from foundation.pipeline_logger import get_logger

            get_logger(component).log_event(
                "observability_failure",
                level="warning",
                component_failed=component,
                reason=reason,
                error_type=type(exc).__name__ if exc is not None else None,
                error=bounded(f"{type(exc).__name__}: {exc}", 500) if exc is not None else None,
                **context,
            )
        except Exception:
            pass
    finally:
        _busy.active = False
