"""The listener's outputs: JSON lines in the pipeline_logger streams, batched StatsD packets, failure counts.

Nothing here raises to a hook: a failed write or send is counted, reported once per reason (Python log,
``observability_failure`` event when the log still works, ``pmx.observability.failure`` metric every time).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from foundation.metrics import StatsdClient, Tags
from foundation.pipeline_logger import ERROR_LEVELS, PipelineLogger, get_logger

log = logging.getLogger("listeners")
MAX_PACKET = 1400  # stay below a typical MTU: one datagram is delivered whole or not at all


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
    def encode(record: dict[str, Any]) -> bytes:
        """One JSON line (the record's strings are already redacted by the builders)."""
        text = json.dumps(record, default=str, separators=(",", ":"), ensure_ascii=False)
        return (text + "\n").encode("utf-8")

    def write(self, record: dict[str, Any], hook: str | None = None) -> list[str]:
        """Write ``record`` to its stream (and ``errors`` for error levels); return the streams written."""
        done: list[str] = []
        try:
            data = self.encode(record)
            stream = record.get("stream", "events")
            copy = record.get("level") in ERROR_LEVELS and stream != "errors"
            targets = [stream, "errors"] if copy else [stream]
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


def statsd_target() -> tuple[str, int, bool]:
    """``(host, port, enabled)`` with the same precedence as :func:`foundation.metrics.get_client`."""
    host = os.environ.get("PMX_STATSD_HOST") or os.environ.get("AIRFLOW__METRICS__STATSD_HOST") or "127.0.0.1"
    port = os.environ.get("PMX_STATSD_PORT") or os.environ.get("AIRFLOW__METRICS__STATSD_PORT") or "9125"
    enabled = os.environ.get("PMX_STATSD_ENABLED", "true").lower() not in ("0", "false", "no")
    return host, int(port) if port.isdigit() else 0, enabled


_BAD_TAG_CHARS = str.maketrans({c: "_" for c in ",= :|#\n\r\t"})  # as foundation.metrics


def tag_text(tags: Tags) -> str:
    """``,k=v,k2=v2`` (InfluxDB style) escaped as in :mod:`foundation.metrics`; None values are left out."""
    if not tags:
        return ""
    parts = [f"{str(k).translate(_BAD_TAG_CHARS)}={str(v).translate(_BAD_TAG_CHARS) or '_'}"
             for k, v in tags.items() if v is not None]
    return "," + ",".join(parts) if parts else ""


def value_text(value: float | int) -> str:
    """A StatsD value as :meth:`foundation.metrics.StatsdClient.line` writes it."""
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value == value else "0"
    return str(value)


class StatsdSender:
    """Sends all StatsD lines of one hook as one non-blocking UDP datagram (newline-separated lines).

    An IP-literal host is used at once; a host name is resolved by ``resolve_later`` (the background worker),
    and lines are counted as dropped until it resolves, so no hook ever waits for DNS. The target is read from
    the environment once per process (and again after a fork or :meth:`reset`).
    """

    def __init__(self, failures: FailureCounter, resolve_later: Callable[[Callable[[], None]], bool]) -> None:
        self.failures = failures
        self.prefix = StatsdClient(enabled=False).prefix
        self.sent = 0
        self.dropped = 0
        self._sock: socket.socket | None = None
        self._addr: tuple[str, int] | None = None
        self._key: tuple[str, int, bool] | None = None
        self._resolving = False
        self._resolve_later = resolve_later

    def line(self, name: str, value: float | int, kind: str, tags: Tags = None) -> str:
        """Format one ``pmx.<name>,tags:value|kind`` line."""
        return f"{self.prefix}.{name}{tag_text(tags)}:{value_text(value)}|{kind}"

    def tagged(self, name: str, value: float | int, kind: str, tags: str) -> str:
        """Like :meth:`line` with tags already formatted by :func:`tag_text` (a hook reuses them)."""
        return f"{self.prefix}.{name}{tags}:{value_text(value)}|{kind}"

    def _target(self) -> tuple[str, int] | None:
        if self._key is not None:
            return self._addr
        key = statsd_target()
        if key != self._key:
            self.close()
            self._key, self._resolving = key, False
            host, port, enabled = key
            if not enabled:
                return None
            try:
                ipaddress.ip_address(host)
                self._open((host, port))
            except ValueError:
                self._resolving = self._resolve_later(lambda: self._resolve(key))
            except OSError as exc:
                self.failures.record("statsd_socket", exc)
        return self._addr

    def _open(self, addr: tuple[str, int]) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        self._sock, self._addr = sock, addr

    def _resolve(self, key: tuple[str, int, bool]) -> None:
        host, port, _ = key
        try:
            addr = (socket.gethostbyname(host), port)
        except OSError as exc:
            self.failures.record("statsd_resolve", exc)
            return
        if self._key == key:
            self._open(addr)

    def send(self, lines: Iterable[str]) -> None:
        """Send ``lines`` in as few datagrams as fit; count and swallow every failure."""
        lines = list(lines)
        if not lines:
            return
        addr, sock = self._target(), self._sock
        if addr is None or sock is None:
            if self._key is not None and self._key[2]:
                self.dropped += len(lines)
            return
        packet: list[str] = []
        size = 0
        for text in lines:
            if packet and size + len(text) + 1 > MAX_PACKET:
                self._sendto(sock, "\n".join(packet), addr)
                packet, size = [], 0
            packet.append(text)
            size += len(text) + 1
        self._sendto(sock, "\n".join(packet), addr)

    def _sendto(self, sock: socket.socket, payload: str, addr: tuple[str, int]) -> None:
        try:
            sock.sendto(payload.encode("utf-8"), addr)
            self.sent += 1
        except OSError as exc:  # closed port (ECONNREFUSED), ENOBUFS, EAGAIN...
            self.failures.record("statsd_send", exc)

    def reset(self) -> None:
        """Close the socket and forget target and counts (after a fork)."""
        self.close()
        self._key, self._resolving = None, False
        self.sent = self.dropped = 0

    def close(self) -> None:
        """Close the socket (a new one is opened on the next send)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock, self._addr = None, None
