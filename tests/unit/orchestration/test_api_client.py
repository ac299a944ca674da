"""The REST client against a local HTTP server: token refresh on 401, retries of transient 5xx on idempotent calls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from local_stack import api_client
from local_stack.api_client import AirflowApi, ApiError
from tests.harness.receivers import reply


class _Server(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list[int] = []  # status codes to give /api/v2 calls, in order; then 200
        self.calls: list[tuple[str, str]] = []
        self.tokens = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path == "/auth/token":
            self.server.tokens += 1
            self._send(201, {"access_token": f"t{self.server.tokens}"})
            return
        self.server.calls.append((method, self.path))
        status = self.server.answers.pop(0) if self.server.answers else 200
        self._send(status, {"detail": "database is locked"} if status >= 400 else {"ok": True})

    def _send(self, status: int, body: dict[str, object]) -> None:
        reply(self, status, body)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_PATCH(self) -> None:
        self._answer("PATCH")


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    monkeypatch.setattr(api_client.time, "sleep", lambda _s: None)
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _api(server: _Server) -> AirflowApi:
    return AirflowApi(f"http://127.0.0.1:{server.server_address[1]}", password="pw", timeout=5)


def test_a_transient_5xx_on_an_idempotent_call_is_retried(server: _Server) -> None:
    server.answers = [500, 503]
    _api(server).set_paused("daily_etl", False)
    assert server.calls == [("PATCH", "/api/v2/dags/daily_etl")] * 3


def test_a_persistent_5xx_gives_up_with_the_status_and_body(server: _Server) -> None:
    server.answers = [500] * (api_client.TRANSIENT_RETRIES + 1)
    with pytest.raises(ApiError, match=r"GET /dags/x -> 500: .*database is locked"):
        _api(server).request("GET", "/dags/x")
    assert len(server.calls) == api_client.TRANSIENT_RETRIES + 1


def test_a_post_is_never_repeated_on_5xx(server: _Server) -> None:
    server.answers = [500]
    with pytest.raises(ApiError, match="-> 500"):
        _api(server).request("POST", "/dags/daily_etl/clearTaskInstances", json={})
    assert server.calls == [("POST", "/api/v2/dags/daily_etl/clearTaskInstances")]


def test_a_trigger_names_its_run_and_is_therefore_retried(server: _Server) -> None:
    server.answers = [500, 409]  # locked, then: the first attempt had created the run after all
    run_id = _api(server).trigger("daily_etl", run_id="manual__one")
    assert run_id == "manual__one"
    assert server.calls == [("POST", "/api/v2/dags/daily_etl/dagRuns")] * 2
    server.calls.clear()
    server.answers = [409]  # a first attempt that conflicts is someone else's run: an error
    with pytest.raises(ApiError, match="-> 409"):
        _api(server).trigger("daily_etl", run_id="manual__one")
    assert _api(server).trigger("daily_etl").startswith("manual__20")


def test_an_expired_token_is_refreshed_once(server: _Server) -> None:
    server.answers = [401]
    assert _api(server).request("GET", "/dags/x") == {"ok": True}
    assert server.tokens == 2
    server.answers = [401, 401]
    with pytest.raises(ApiError, match="-> 401"):
        _api(server).request("GET", "/dags/x")
