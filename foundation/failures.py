"""One way to report that an observability path failed: a metric, a JSON event, never an exception.

Every path that watches the pipeline (listener hooks, StatsD sends, the event log, lineage, alert submission
and delivery, the domain's own metrics) calls :func:`report_failure` when its own work fails. The failure is
counted as ``pmx.observability.failure{component, reason}`` and written as an ``observability_failure`` event,
which ``scripts/error_monitor.py`` counts per ``component:reason``. The caller's work goes on.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from foundation.metrics import get_client
from foundation.pipeline_logger import log_failure

_busy = threading.local()


def report_failure(component: str, reason: str, exc: BaseException | None = None, *, level: str = "warning",
                   **context: Any) -> None:
    """Count one failure of ``component`` (metric + ``observability_failure`` event); never raises.

    :param component: the failing part (``listener``, ``metrics``, ``event_log``, ``lineage``, ``alerts``...).
    :param reason: a short, bounded word for what failed (``submit``, ``deliver``, ``mask``...).
    :param level: the event's level (``error`` also copies it to the errors stream).
    :param context: extra fields for the event (ids, never secrets).
    """
    if getattr(_busy, "active", False):
        return  # a failure while reporting a failure: no recursion
    _busy.active = True
    try:
        with contextlib.suppress(Exception):
            get_client().incr("observability.failure", tags={"component": component, "reason": reason})
        log_failure(component, reason, exc, level=level, **context)
    finally:
        _busy.active = False
