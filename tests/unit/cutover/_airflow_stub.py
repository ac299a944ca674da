"""A real HTTP server that answers the two calls the cutover makes (token, PATCH /api/v2/dags/<id>) and records them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.harness.receivers import reply


class AirflowStub(ThreadingHTTPServer):
    """``patches`` holds ``(dag_id, body)`` per PATCH; DAGs in ``failing`` answer 404."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.patches: list[tuple[str, dict[str, object]]] = []
        self.failing: set[str] = set()
        self.logins: list[dict[str, object]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: AirflowStub

    def log_message(self, *args: object) -> None:
        pass

    def _body(self) -> dict[str, object]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _send(self, status: int, body: dict[str, object]) -> None:
        reply(self, status, body)

    def do_POST(self) -> None:
        if self.path != "/auth/token":
            self._send(404, {"detail": "not found"})
            return
        self.server.logins.append(self._body())
        self._send(201, {"access_token": "token"})

    def do_PATCH(self) -> None:
        prefix = "/api/v2/dags/"
        if not self.path.startswith(prefix) or self.headers.get("Authorization") != "Bearer token":
            self._send(401, {"detail": "unauthorized"})
            return
        dag_id, body = self.path[len(prefix):], self._body()
        self.server.patches.append((dag_id, body))
        if dag_id in self.server.failing:
            self._send(404, {"detail": f"DAG {dag_id} not found"})
            return
        self._send(200, {"dag_id": dag_id, **body})


@contextmanager
def airflow_stub() -> Iterator[AirflowStub]:
    """Serve an :class:`AirflowStub` in a thread for the duration of the block."""
    server = AirflowStub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
