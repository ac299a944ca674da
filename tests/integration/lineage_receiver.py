"""A local HTTP receiver speaking Marquez's lineage endpoint: ``POST /api/v1/lineage`` with one OpenLineage run
event as JSON, answered ``201 Created``; a body that is not a run event gets ``422``, any other path ``404``.

It can go down (the port then refuses connections, as a Marquez that went down) and serve again on the same port.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REQUIRED = ("eventType", "eventTime", "run", "job", "producer", "schemaURL")


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # started again on the same port after a stop
    daemon_threads = True


class LineageReceiver:
    """``url`` for the HTTP transport; ``events`` holds every accepted event in arrival order."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.events: list[dict[str, Any]] = []
        self.rejected = 0
        self._lock = threading.Lock()
        self._server: _Server | None = None

    def serve(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/api/v1/lineage":
                    self.send_response(404)
                    self.end_headers()
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    event = json.loads(body)
                    valid = isinstance(event, dict) and all(key in event for key in REQUIRED)
                except ValueError:
                    valid = False
                with receiver._lock:
                    if valid:
                        receiver.events.append(event)
                    else:
                        receiver.rejected += 1
                self.send_response(201 if valid else 422)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, name="lineage-receiver", daemon=True).start()

    def go_down(self) -> None:
        """Stop answering: from now on a connection to the port is refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events)
