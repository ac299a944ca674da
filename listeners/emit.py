"""The listener's outputs: JSON lines in the pipeline_logger streams, batched StatsD packets, failure counts.

Nothing here raises to a hook: a failed write or send is counted, reported once per reason (Python log,
``observability_failure`` event when the log still works, ``pmx.observability.failure`` metric every time).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from foundation import statsd_sender
from foundation.pipeline_logger import ERROR_LEVELS, PipelineLogger, Stream, get_logger
from listeners.record import ListenerRecord

log = logging.getLogger("listeners")
MAX_PACKET = statsd_sender.MAX_PACKET  # below a typical MTU: one datagram is delivered whole or not at all


class FailureCounter:
    """Counts failures by reason; the first of each reason is logged and reported as an event."""

    def __init__(self) -> None:
        self.report_event: Callable[[dict[str, Any]], None] | None = None
        self.report_metric: Callable[[str], None] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget counts (a forked child reports its own failures, once each)."""
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._reporting = threading.local()

    @property
    def total(self) -> int:
        """Failures of every reason so far."""
        return sum(self.counts.values())

    def record(self, reason: str, exc: BaseException | None = None, hook: str | None = None) -> None:
        """Count one failure; on the first of ``reason`` also log it and write an event. Never raises."""
        try:
            with self._lock:
                self.counts[reason] += 1
                first = self.counts[reason] == 1
            if getattr(self._reporting, "active", False):
                return  # a failure while reporting a failure: counted, not reported again (no recursion)
            self._reporting.active = True
            try:
                if self.report_metric is not None:
                    self.report_metric(reason)
                if not first:
                    return
                detail = f"{type(exc).__name__}: {exc}" if exc is not None else ""
                log.warning("portfolio observability listener: %s failed (%s); the task outcome is "
                            "unchanged; further failures of this kind are only counted", reason, detail[:300])
                if self.report_event is not None:
                    from foundation.scrub import scrub_bounded

                    self.report_event({"reason": reason, "failed_hook": hook,
                                       "error_type": type(exc).__name__ if exc is not None else None,
                                       "error": scrub_bounded(str(exc), 500) if exc is not None else None})
            finally:
                self._reporting.active = False
        except Exception:  # the failure path itself must never raise
            pass


class EventWriter:
    """Appends listener records to the pipeline_logger streams (flock'd, never torn, rotation-safe)."""

    def __init__(self, failures: FailureCounter, logger: PipelineLogger | None = None) -> None:
        self.failures = failures
        self._logger = logger
        self.written: Counter[str] = Counter()

    def logger(self) -> PipelineLogger:
        """This process's own :class:`PipelineLogger` (own descriptors and locks), set up on first use."""
        if self._logger is None:
            shared = get_logger()
            self._logger = PipelineLogger(shared.log_dir, max_bytes=shared.max_bytes,
                                          retention_days=shared.retention_days, component="listener")
        return self._logger

    @staticmethod
    def encode(record: ListenerRecord) -> bytes:
        """One JSON line (the record's strings are already redacted by the builders)."""
        text = json.dumps(record, default=str, separators=(",", ":"), ensure_ascii=False)
        return (text + "\n").encode("utf-8")

    def write(self, record: ListenerRecord, hook: str | None = None) -> list[str]:
        """Write ``record`` to its stream (and ``errors`` for error levels); return the streams written."""
        done: list[str] = []
        try:
            data = self.encode(record)
            stream = record.get("stream", "events")
            copy = record.get("level") in ERROR_LEVELS and stream != "errors"
            targets: list[Stream] = [stream, "errors"] if copy else [stream]
            logger = self.logger()
            for target in targets:
                logger.write_line(data, target)
                self.written[target] += 1
                done.append(target)
        except Exception as exc:  # disk full, read-only or missing log dir...
            self.failures.record("event_write", exc, hook)
        return done

    def reset(self) -> None:
        """Forget descriptors and counts (after a fork: the child opens its own)."""
        self._logger = None
        self.written = Counter()


class StatsdSender(statsd_sender.StatsdSender):
    """The listener's use of the project's one StatsD sender: all lines of one hook go out as one datagram
    (split below :data:`MAX_PACKET`), failures go to the listener's :class:`FailureCounter`, and a host name
    is resolved by ``resolve_later`` (the background worker) so no hook ever waits for DNS. The target is
    read from the environment once per process (and again after a fork or :meth:`reset`).
    """

    def __init__(self, failures: FailureCounter, resolve_later: Callable[[Callable[[], None]], bool]) -> None:
        super().__init__(failures.record, resolve_later=resolve_later, max_packet=MAX_PACKET)
        self.failures = failures
