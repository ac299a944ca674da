"""Fire-and-forget StatsD client for the project's ``pmx.*`` metrics (InfluxDB tag style, UDP).

It never raises and never blocks: a send failure (closed port, unresolvable host, full buffer) is counted in
:attr:`StatsdClient.failures` and reported once as a pipeline event. Names and tags are listed in
``docs/metrics.md``; tags become Prometheus labels through ``monitoring/statsd_mapping.yml``.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping

DEFAULT_PREFIX = "pmx"
_BAD_TAG_CHARS = str.maketrans({c: "_" for c in ",= :|#\n\r\t"})
Tags = Mapping[str, object] | None


def _tag_text(tags: Tags) -> str:
    if not tags:
        return ""
    parts = []
    for key, value in tags.items():
        if value is None:
            continue
        parts.append(f"{str(key).translate(_BAD_TAG_CHARS)}={str(value).translate(_BAD_TAG_CHARS) or '_'}")
    return "," + ",".join(parts) if parts else ""


class StatsdClient:
    """Sends ``prefix.name,tag=value:value|type`` datagrams; counts and swallows every failure."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9125, prefix: str = DEFAULT_PREFIX,
                 enabled: bool = True) -> None:
        self.prefix = prefix.rstrip(".")
        self.enabled = enabled
        self.failures = 0
        self.sent = 0
        self._reported = False
        self._lock = threading.Lock()
        self._addr: tuple[str, int] | None = None
        self._sock: socket.socket | None = None
        if enabled:
            try:
                self._addr = (socket.gethostbyname(host), int(port))
                self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._sock.setblocking(False)
            except (OSError, ValueError) as exc:
                self._fail(f"statsd target {host}:{port} unusable: {exc}")

    def _fail(self, reason: str) -> None:
        with self._lock:
            self.failures += 1
            first = not self._reported
            self._reported = True
        if first:
            try:
                from foundation.pipeline_logger import get_logger

                get_logger("metrics").log_event("observability_failure", level="warning", component_failed="metrics",
                                                reason=reason[:300])
            except Exception:
                pass

    def _send(self, line: str) -> None:
        if self._sock is None or self._addr is None:
            return
        try:
            self._sock.sendto(line.encode("utf-8"), self._addr)
            self.sent += 1
        except OSError as exc:  # ECONNREFUSED after an ICMP port-unreachable, EAGAIN, ENOBUFS...
            self._fail(f"statsd send failed: {exc}")

    def line(self, name: str, value: float | int, kind: str, tags: Tags = None) -> str:
        """Format one StatsD line (without sending it)."""
        if isinstance(value, float):
            text = f"{value:.6f}".rstrip("0").rstrip(".") if value == value else "0"
        else:
            text = str(value)
        return f"{self.prefix}.{name}{_tag_text(tags)}:{text}|{kind}"

    def incr(self, name: str, value: int | float = 1, tags: Tags = None) -> None:
        """Increment a counter."""
        if self.enabled:
            self._send(self.line(name, value, "c", tags))

    def gauge(self, name: str, value: float | int, tags: Tags = None) -> None:
        """Set a gauge to an absolute value (negative values are sent as ``0`` then ``-x`` like StatsD)."""
        if not self.enabled:
            return
        if value < 0:
            self._send(self.line(name, 0, "g", tags))
        self._send(self.line(name, value, "g", tags))

    def timing(self, name: str, milliseconds: float, tags: Tags = None) -> None:
        """Record a duration in milliseconds."""
        if self.enabled:
            self._send(self.line(name, float(milliseconds), "ms", tags))

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


_client: StatsdClient | None = None
_client_key: tuple[str, str, str] | None = None


def get_client() -> StatsdClient:
    """Process-wide client: ``PMX_STATSD_HOST/PORT`` or Airflow's ``[metrics] statsd_host/port`` settings."""
    global _client, _client_key
    host = os.environ.get("PMX_STATSD_HOST") or os.environ.get("AIRFLOW__METRICS__STATSD_HOST") or "127.0.0.1"
    port = os.environ.get("PMX_STATSD_PORT") or os.environ.get("AIRFLOW__METRICS__STATSD_PORT") or "9125"
    enabled = os.environ.get("PMX_STATSD_ENABLED", "true").lower() not in ("0", "false", "no")
    key = (host, port, str(enabled))
    if _client is None or _client_key != key:
        _client = StatsdClient(host, int(port) if port.isdigit() else 0, enabled=enabled)
        _client_key = key
    return _client
