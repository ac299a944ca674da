"""Fire-and-forget StatsD client for the project's ``pmx.*`` metrics (InfluxDB tag style, UDP).

It never raises and never blocks: it sends through :class:`foundation.statsd_sender.StatsdSender` (one
datagram per metric), and a failure (closed port, unresolvable host, full buffer) is counted in
:attr:`StatsdClient.failures` and reported once to the reporter the event log installs
(:func:`set_failure_reporter`: an ``observability_failure`` event, component ``metrics``). Names and tags
are listed in ``docs/metrics.md``; tags become Prometheus labels through ``monitoring/statsd_mapping.yml``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from foundation.statsd_sender import DEFAULT_PREFIX, StatsdSender, Tags, statsd_target, tag_text, value_text

__all__ = ["DEFAULT_PREFIX", "StatsdClient", "Tags", "get_client", "set_failure_reporter", "tag_text", "value_text"]

FailureReporter = Callable[[str, BaseException | None], None]
_reporter: list[FailureReporter] = []


def set_failure_reporter(reporter: FailureReporter) -> None:
    """Where a client reports its first failure (the event log installs itself; StatsD cannot report on itself)."""
    _reporter[:] = [reporter]


class StatsdClient:
    """Sends ``prefix.name,tag=value:value|type`` datagrams; counts and swallows every failure.

    A host name is resolved here, in the constructor (task code; the listener resolves off its hooks).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9125, prefix: str = DEFAULT_PREFIX,
                 enabled: bool = True) -> None:
        self.enabled = enabled
        self.failures = 0
        self._reported = False
        self._lock = threading.Lock()
        target = (host, port, enabled)
        self._sender = StatsdSender(self._fail, target=lambda: target, prefix=prefix)
        self.prefix = self._sender.prefix
        if enabled:
            self._sender.open()

    @property
    def sent(self) -> int:
        """Datagrams sent so far."""
        return self._sender.sent

    def _fail(self, reason: str, exc: BaseException | None) -> None:
        with self._lock:
            self.failures += 1
            first = not self._reported
            self._reported = True
        if first:
            for report in _reporter:
                with contextlib.suppress(Exception):
                    report(reason, exc)

    def line(self, name: str, value: float | int, kind: str, tags: Tags = None) -> str:
        """Format one StatsD line (without sending it)."""
        return self._sender.line(name, value, kind, tags)

    def incr(self, name: str, value: int | float = 1, tags: Tags = None) -> None:
        """Increment a counter."""
        if self.enabled:
            self._sender.send([self.line(name, value, "c", tags)])

    def gauge(self, name: str, value: float | int, tags: Tags = None) -> None:
        """Set a gauge to an absolute value (negative values are sent as ``0`` then ``-x`` like StatsD)."""
        if not self.enabled:
            return
        if value < 0:
            self._sender.send([self.line(name, 0, "g", tags)])
        self._sender.send([self.line(name, value, "g", tags)])

    def timing(self, name: str, milliseconds: float, tags: Tags = None) -> None:
        """Record a duration in milliseconds."""
        if self.enabled:
            self._sender.send([self.line(name, float(milliseconds), "ms", tags)])

    def close(self) -> None:
        """Close the socket."""
        self._sender.close()


_client: StatsdClient | None = None
_client_key: tuple[str, int, bool] | None = None


def get_client() -> StatsdClient:
    """Process-wide client: ``PMX_STATSD_HOST/PORT`` or Airflow's ``[metrics] statsd_host/port`` settings."""
    global _client, _client_key
    key = statsd_target()
    if _client is None or _client_key != key:
        _client = StatsdClient(*key[:2], enabled=key[2])
        _client_key = key
    return _client
