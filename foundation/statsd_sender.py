"""The project's one StatsD sender: ``statsd.StatsClient`` on a non-blocking socket, InfluxDB-style tags.

A line is ``<prefix>.<name>,k=v,k2=v2:<value>|<type>`` (tags appended to the name, as Airflow's own StatsD
logger writes them with ``statsd_influxdb_enabled``); ``monitoring/statsd_mapping.yml`` turns the tags into
Prometheus labels. :func:`tag_text` and :func:`value_text` are the one place that formats them.

The sender never raises and never blocks:

* the socket is non-blocking and every send failure (closed port, full buffer, a line that does not encode)
  goes to the owner's ``on_failure(reason, exc)`` callback (``statsd_send``, ``statsd_socket``,
  ``statsd_resolve``); ``StatsClient._send`` would encode ASCII and miss ``UnicodeEncodeError``, so
  :class:`_UdpClient` overrides it;
* ``StatsClient``'s constructor calls ``getaddrinfo``: it is only ever given an IP literal. A host name is
  resolved by ``resolve_later`` (the listener's background worker, so no hook waits for DNS) and lines are
  counted in :attr:`StatsdSender.dropped` until it resolves; without ``resolve_later`` (task code, never a
  hook) it is resolved in the calling thread when the target is opened.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import Callable, Iterable, Mapping

import statsd

DEFAULT_PREFIX = "pmx"
MAX_PACKET = 1400  # stay below a typical MTU: one datagram is delivered whole or not at all
Tags = Mapping[str, object] | None
Target = tuple[str, int, bool]
OnFailure = Callable[[str, BaseException | None], object]
Resolver = Callable[[Callable[[], None]], bool]
_BAD_TAG_CHARS = str.maketrans({c: "_" for c in ",= :|#\n\r\t"})
_OFF = ("0", "false", "no", "off")


def tag_text(tags: Tags) -> str:
    """``,k=v,k2=v2`` (InfluxDB style) with the separators escaped to ``_``; None values are left out."""
    if not tags:
        return ""
    parts = [f"{str(k).translate(_BAD_TAG_CHARS)}={str(v).translate(_BAD_TAG_CHARS) or '_'}"
             for k, v in tags.items() if v is not None]
    return "," + ",".join(parts) if parts else ""


def value_text(value: float | int) -> str:
    """A StatsD value: floats with at most 6 decimals and no trailing zeros, NaN as ``0``."""
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value == value else "0"
    return str(value)


def statsd_target() -> Target:
    """``(host, port, enabled)``: ``PMX_STATSD_HOST/PORT/ENABLED``, else Airflow's ``[metrics] statsd_*``."""
    host = os.environ.get("PMX_STATSD_HOST") or os.environ.get("AIRFLOW__METRICS__STATSD_HOST") or "127.0.0.1"
    port = os.environ.get("PMX_STATSD_PORT") or os.environ.get("AIRFLOW__METRICS__STATSD_PORT") or "9125"
    enabled = os.environ.get("PMX_STATSD_ENABLED", "true").lower() not in _OFF
    return host, int(port) if port.isdigit() else 0, enabled


class _UdpClient(statsd.StatsClient):
    """``StatsClient`` for an IP literal, on a non-blocking socket, sending UTF-8, reporting its failures."""

    def __init__(self, ip: str, port: int, max_packet: int, owner: StatsdSender) -> None:
        super().__init__(ip, port, prefix=None, maxudpsize=max_packet, ipv6=":" in ip)
        self._sock.setblocking(False)
        self._owner = owner

    def _send(self, data: str) -> None:
        try:
            self._sock.sendto(data.encode("utf-8"), self._addr)
        except Exception as exc:  # ECONNREFUSED after an ICMP port-unreachable, EAGAIN, ENOBUFS, encoding...
            self._owner.failed("statsd_send", exc)
        else:
            self._owner.sent += 1


class StatsdSender:
    """Sends formatted StatsD lines, batched into as few datagrams as fit in ``max_packet`` bytes.

    The target comes from ``target()`` (default :func:`statsd_target`), read once (again after :meth:`reset`).
    """

    def __init__(self, on_failure: OnFailure, *, resolve_later: Resolver | None = None,
                 target: Callable[[], Target] = statsd_target, prefix: str = DEFAULT_PREFIX,
                 max_packet: int = MAX_PACKET) -> None:
        self.prefix = prefix.rstrip(".")
        self.max_packet = max_packet
        self.sent = 0
        self.dropped = 0
        self._on_failure = on_failure
        self._resolve_later = resolve_later
        self._target = target
        self._client: _UdpClient | None = None
        self._key: Target | None = None

    def line(self, name: str, value: float | int, kind: str, tags: Tags = None) -> str:
        """Format one ``<prefix>.<name>,tags:value|kind`` line."""
        return f"{self.prefix}.{name}{tag_text(tags)}:{value_text(value)}|{kind}"

    def tagged(self, name: str, value: float | int, kind: str, tags: str) -> str:
        """Like :meth:`line` with tags already formatted by :func:`tag_text` (a caller may reuse them)."""
        return f"{self.prefix}.{name}{tags}:{value_text(value)}|{kind}"

    def failed(self, reason: str, exc: BaseException | None) -> None:
        """Hand one failure to the owner's callback; never raises."""
        with contextlib.suppress(Exception):
            self._on_failure(reason, exc)

    def open(self) -> None:
        """Read the target and open the socket now (an IP literal, or a host name resolved as documented)."""
        if self._key is not None:
            return
        key = self._key = self._target()
        host, port, enabled = key
        if not enabled:
            return
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if self._resolve_later is None:
                self._resolve(key)
            else:
                self._resolve_later(lambda: self._resolve(key))
            return
        self._connect(host, port)

    def _connect(self, ip: str, port: int) -> None:
        try:
            self._client = _UdpClient(ip, port, self.max_packet, self)
        except Exception as exc:  # socket table full, bad port...
            self.failed("statsd_socket", exc)

    def _resolve(self, key: Target) -> None:
        host, port, _ = key
        try:
            ip = socket.gethostbyname(host)
        except (OSError, UnicodeError) as exc:
            self.failed("statsd_resolve", exc)
            return
        if self._key == key:
            self._connect(ip, port)

    def send(self, lines: Iterable[str]) -> None:
        """Send ``lines`` in as few datagrams as fit; count and swallow every failure."""
        try:
            batch = list(lines)
            if not batch:
                return
            self.open()
            client = self._client
            if client is None:
                if self._key is not None and self._key[2]:
                    self.dropped += len(batch)
                return
            if len(batch) == 1:
                client._after(batch[0])
                return
            pipe = client.pipeline()
            for text in batch:
                pipe._after(text)  # the formatted line as is (statsd's own formatting differs from ours)
            pipe.send()
        except Exception as exc:
            self.failed("statsd_send", exc)

    def reset(self) -> None:
        """Close the socket and forget target and counts (after a fork: the child opens its own)."""
        self.close()
        self._key = None
        self.sent = self.dropped = 0

    def close(self) -> None:
        """Close the socket (a new one is opened after :meth:`reset`)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
