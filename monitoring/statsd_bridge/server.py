"""The running bridge: StatsD listeners, ``/metrics`` over HTTP (prometheus-client), TTL expiry, reload."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from monitoring.statsd_bridge.bridge import Bridge
from monitoring.statsd_bridge.config_model import MappingConfigError
from monitoring.statsd_bridge.line import LineParser
from monitoring.statsd_bridge.listeners import TCPListener, UDPListener
from monitoring.statsd_bridge.mapper import MetricMapper
from monitoring.statsd_bridge.registry import DEFAULT_MAX_SERIES, DEFAULT_MAX_SERIES_PER_METRIC, SeriesLimits
from monitoring.statsd_bridge.selfmetrics import RESERVED_NAMES, ListenerStats, SelfCollector

log = logging.getLogger(__name__)
DEFAULT_LIMITS = SeriesLimits(total=DEFAULT_MAX_SERIES, per_metric=DEFAULT_MAX_SERIES_PER_METRIC)


class _BridgeCollector:
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    def collect(self) -> Any:
        with self.bridge.lock:
            return list(self.bridge.registry.collect())


class StatsDBridgeServer:
    """Owns the sockets and threads of one bridge instance; use as a context manager in tests."""

    def __init__(
        self,
        mapper: MetricMapper | None = None,
        *,
        udp: tuple[str, int] | None = ("127.0.0.1", 9125),
        tcp: tuple[str, int] | None = None,
        web: tuple[str, int] = ("127.0.0.1", 9102),
        telemetry_path: str = "/metrics",
        parser: LineParser | None = None,
        read_buffer: int = 0,
        mapping_path: str | Path | None = None,
        limits: SeriesLimits | None = DEFAULT_LIMITS,
    ) -> None:
        self.mapping_path = Path(mapping_path) if mapping_path else None
        self.bridge = Bridge(mapper or MetricMapper(), parser, reserved_names=RESERVED_NAMES, limits=limits)
        self.stats = ListenerStats()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_BridgeCollector(self.bridge))
        self.registry.register(SelfCollector(self.bridge, self.stats))
        self.udp = UDPListener(self.bridge, self.stats, udp, read_buffer) if udp else None
        self.tcp = TCPListener(self.bridge, self.stats, tcp) if tcp else None
        self.telemetry_path = telemetry_path
        self.http = ThreadingHTTPServer(web, self._handler())
        self.http.daemon_threads = True
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def web_address(self) -> tuple[str, int]:
        """``(host, port)`` the HTTP server is bound to."""
        host, port = self.http.server_address[:2]
        return str(host), int(port)

    def metrics_text(self) -> str:
        """The ``/metrics`` page as text."""
        return generate_latest(self.registry).decode("utf-8")

    def reload(self) -> bool:
        """Re-read the mapping file; on error keep the current mapping and count a failed reload."""
        if self.mapping_path is None:
            return False
        try:
            mapper = MetricMapper.from_file(self.mapping_path, self.bridge.mapper.cache_size)
        except MappingConfigError as exc:
            log.error("mapping reload failed, keeping the previous mapping: %s", exc)
            self.stats.reloads["failure"] += 1
            return False
        self.bridge.reload(mapper)
        self.stats.reloads["success"] += 1
        log.info("mapping reloaded from %s (%d mappings)", self.mapping_path, len(mapper.config.mappings))
        return True

    def start(self) -> StatsDBridgeServer:
        """Start listeners, the HTTP server and the TTL sweeper."""
        for listener in (self.udp, self.tcp):
            if listener is not None:
                listener.start()
        for name, target in (("statsd-http", self.http.serve_forever), ("statsd-ttl", self._sweep)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _sweep(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.bridge.expire()
            except Exception:
                log.exception("TTL sweep failed")

    def stop(self) -> None:
        """Stop everything and release the ports."""
        self._stop.set()
        for listener in (self.udp, self.tcp):
            if listener is not None:
                listener.stop()
        self.http.shutdown()
        self.http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> StatsDBridgeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == server.telemetry_path:
                    self._reply(200, generate_latest(server.registry), CONTENT_TYPE_PLAIN_0_0_4)
                elif path in ("/-/healthy", "/-/ready"):
                    self._reply(200, b"OK\n", "text/plain; charset=utf-8")
                elif path == "/":
                    page = (
                        f"<html><head><title>StatsD bridge</title></head><body><h1>StatsD bridge</h1>"
                        f"<p><a href='{server.telemetry_path}'>Metrics</a></p></body></html>"
                    )
                    self._reply(200, page.encode(), "text/html; charset=utf-8")
                else:
                    self._reply(404, b"not found\n", "text/plain; charset=utf-8")

            def do_POST(self) -> None:
                if self.path.split("?", 1)[0] == "/-/reload":
                    ok = server.reload()
                    self._reply(200 if ok else 500, b"OK\n" if ok else b"reload failed\n", "text/plain")
                else:
                    self._reply(404, b"not found\n", "text/plain; charset=utf-8")

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError) as exc:  # a scraper that timed out and hung up
                    self.close_connection = True
                    log.debug("http: client %s went away before the reply was written: %s",
                              self.client_address[0], exc)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http: " + format, *args)

        return Handler
