"""UDP and TCP StatsD listeners (127.0.0.1 by default); a bad packet is counted, never fatal."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from pathlib import Path

from monitoring.statsd_bridge.bridge import Bridge
from monitoring.statsd_bridge.selfmetrics import ListenerStats

log = logging.getLogger(__name__)
MAX_DATAGRAM = 65535
MAX_TCP_LINE = 65536
DEFAULT_READ_BUFFER = 8 * 1024 * 1024  # the kernel caps it at net.core.rmem_max


def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``host:port`` (``:port`` binds ``default_host``) -> ``(host, port)``; ``ValueError`` if malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid address {text!r}: expected host:port")
    return (host.strip("[]") or default_host), int(port)


def kernel_udp_drops(sock: socket.socket) -> int:
    """Datagrams the kernel dropped on ``sock`` (receive buffer full), from ``/proc/net/udp``; 0 elsewhere."""
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
    except OSError:
        return 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) >= 13 and fields[9] == inode:
                return int(fields[12])
    return 0


class UDPListener:
    """Receives datagrams and feeds them to the bridge on one thread (no hand-off queue to lose them in)."""

    def __init__(
        self, bridge: Bridge, stats: ListenerStats, address: tuple[str, int], read_buffer: int = 0
    ) -> None:
        self.bridge = bridge
        self.stats = stats
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, read_buffer or DEFAULT_READ_BUFFER)
        self.sock.bind(address)
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="statsd-udp", daemon=True)
        stats.udp_drops_probe.append(lambda: kernel_udp_drops(self.sock))

    def start(self) -> None:
        """Start the receive thread."""
        self._thread.start()

    def _run(self) -> None:
        recv, handle, stats = self.sock.recv, self.bridge.handle_packet, self.stats
        while not self._stop.is_set():
            try:
                data = recv(MAX_DATAGRAM)
            except OSError:
                if self._stop.is_set():
                    break
                log.exception("UDP receive failed")
                continue
            stats.udp_packets += 1
            try:
                handle(data)
            except Exception:
                log.exception("unexpected error handling a StatsD packet; packet dropped")

    def stop(self) -> None:
        """Stop receiving and close the socket."""
        self._stop.set()
        try:
            with socket.socket(self.sock.family, socket.SOCK_DGRAM) as waker:
                waker.sendto(b"", self.address)
        except OSError:
            pass
        self._thread.join(timeout=5)
        self.stats.udp_drops_base += kernel_udp_drops(self.sock)
        self.stats.udp_drops_probe.clear()
        self.sock.close()


class TCPListener:
    """Accepts TCP connections; each one streams newline-separated lines."""

    def __init__(self, bridge: Bridge, stats: ListenerStats, address: tuple[str, int]) -> None:
        self.bridge = bridge
        self.stats = stats
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(address)
        self.sock.listen(64)
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="statsd-tcp", daemon=True)

    def start(self) -> None:
        """Start accepting connections."""
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                if self._stop.is_set():
                    break
                self.stats.tcp_errors += 1
                continue
            self.stats.tcp_connections += 1
            threading.Thread(target=self._serve, args=(conn,), name="statsd-tcp-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        pending, skipping = b"", False
        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(MAX_TCP_LINE)
                except OSError:
                    self.stats.tcp_errors += 1
                    return
                if not chunk:
                    break
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                if skipping:
                    if not lines:
                        pending = b""
                        continue
                    lines, skipping = lines[1:], False
                if len(pending) > MAX_TCP_LINE:
                    self.stats.tcp_too_long += 1
                    pending, skipping = b"", True
                if any(len(line) > MAX_TCP_LINE for line in lines):
                    self.stats.tcp_too_long += sum(len(line) > MAX_TCP_LINE for line in lines)
                    lines = [line for line in lines if len(line) <= MAX_TCP_LINE]
                if lines:
                    self._handle(lines)
            if pending and not skipping:
                self._handle([pending])

    def _handle(self, raw_lines: list[bytes]) -> None:
        try:
            self.bridge.handle_packet(b"\n".join(raw_lines))
        except Exception:
            log.exception("unexpected error handling StatsD lines; lines dropped")

    def stop(self) -> None:
        """Stop accepting and close the listening socket."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(timeout=5)
