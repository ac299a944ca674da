"""Local stand-ins for the Slack Web API / incoming webhooks, the PagerDuty Events API v2 and Marquez's lineage
endpoint (127.0.0.1 only).

Used by the integration tests, ``bench/sla_latency.py`` and local demos: real HTTP(S) servers that speak the
subset of each API the project uses, record what they accepted, and can be switched into failure modes
(``fail(500)``, ``hang()``, ``recover()``). PagerDuty runs over HTTPS with a CA made by :func:`make_tls`
(the ``pagerduty`` client only accepts https base URLs). A request that hangs or fails is not processed.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse


def reply(h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    """Answer ``status`` with ``body``: JSON, or plain text when it is a string."""
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    h.send_response(status)
    h.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


@dataclass
class Mode:
    """Failure mode of a receiver."""

    kind: str = "ok"  # ok | fail | hang
    status: int = 500
    hang_seconds: float = 30.0


@dataclass
class Receiver:
    """Shared state and server thread of one stand-in."""

    tls: ssl.SSLContext | None = None
    accepted: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    mode: Mode = field(default_factory=Mode)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    _port: int = 0

    def start(self, port: int = 0) -> Receiver:
        """Listen on 127.0.0.1 on ``port`` (a free one by default)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return

            def do_GET(self) -> None:
                receiver._handle(self)

            def do_POST(self) -> None:
                receiver._handle(self)

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)  # allow_reuse_address: resume() rebinds
        server.daemon_threads = True
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self.server = server
        threading.Thread(target=server.serve_forever, name=type(self).__name__, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        """The bound port."""
        assert self.server is not None
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop listening: connections to the port are refused until :meth:`resume`."""
        if self.server is not None:
            self._port = self.port
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def resume(self) -> None:
        """Listen again on the port of before :meth:`stop` (a service that came back)."""
        self.start(self._port)

    def fail(self, status: int = 500) -> None:
        """Answer every request with ``status`` without processing it."""
        self.mode = Mode("fail", status)

    def hang(self, seconds: float = 30.0) -> None:
        """Hold every request for ``seconds`` and drop the connection without processing it."""
        self.mode = Mode("hang", hang_seconds=seconds)

    def recover(self) -> None:
        """Process requests normally again."""
        self.mode = Mode()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        mode = self.mode
        with self.lock:
            self.attempts.append({"path": h.path, "mode": mode.kind, "at": time.time()})
        if mode.kind == "hang":
            time.sleep(mode.hang_seconds)  # wait-budget: 0 (the server thread sleeps; the test does not wait)
            h.close_connection = True
            return
        if mode.kind == "fail":
            reply(h, mode.status, {"error": f"stand-in failure {mode.status}"})
            return
        status, body = self.process(h, raw)
        reply(h, status, body)

    def process(self, h: BaseHTTPRequestHandler, raw: bytes) -> tuple[int, Any]:
        """Handle one request in normal mode."""
        raise NotImplementedError


@dataclass
class SlackStandIn(Receiver):
    """``chat.postMessage``, ``conversations.history``/``list`` and webhooks (``/services/<token>``)."""

    token: str = "xoxb-local-test-token"
    webhook_token: str = "T000/B000/localwebhooksecret"
    channels: dict[str, str] = field(default_factory=lambda: {"pmx-alerts": "C0PMXALERTS"})

    @property
    def api_url(self) -> str:
        """Base URL for the SlackHook connection (``extra.base_url``)."""
        return f"{self.url}/api/"

    def messages(self) -> list[dict[str, Any]]:
        """Accepted messages (API and webhook)."""
        with self.lock:
            return list(self.accepted)

    def process(self, h: BaseHTTPRequestHandler, raw: bytes) -> tuple[int, Any]:
        url = urlparse(h.path)
        if url.path.startswith("/services/"):
            if url.path[len("/services/") :] != self.webhook_token:
                return 403, "invalid_token"
            self._store("webhook", None, json.loads(raw or b"{}"))
            return 200, "ok"
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}
        params = self._params(h, url.query, raw)
        method = url.path.rsplit("/", 1)[-1]
        if method == "chat.postMessage":
            channel = str(params.get("channel", "")).lstrip("#")
            channel_id = self.channels.get(channel, channel if channel in self.channels.values() else None)
            if channel_id is None:
                return 200, {"ok": False, "error": "channel_not_found"}
            msg = self._store("api", channel_id, params)
            return 200, {"ok": True, "channel": channel_id, "ts": msg["ts"], "message": {"text": msg["text"]}}
        if method == "conversations.list":
            return 200, {
                "ok": True,
                "channels": [{"id": v, "name": k} for k, v in self.channels.items()],
                "response_metadata": {"next_cursor": ""},
            }
        if method == "conversations.history":
            oldest = float(params.get("oldest") or 0)
            found = [  # as Slack: thread replies only when also sent to the channel
                m
                for m in self.messages()
                if m["channel"] == params.get("channel") and float(m["ts"]) >= oldest
                and (not m["thread_ts"] or m["reply_broadcast"])
            ]
            return 200, {
                "ok": True,
                "messages": [
                    {"ts": m["ts"], "text": m["text"], "metadata": m["metadata"],
                     **({"thread_ts": m["thread_ts"]} if m["thread_ts"] else {})} for m in reversed(found)
                ],
                "has_more": False,
            }
        return 404, {"ok": False, "error": "unknown_method"}

    @staticmethod
    def _params(h: BaseHTTPRequestHandler, query: str, raw: bytes) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[0] for k, v in parse_qs(query).items()}
        ctype = h.headers.get("Content-Type", "")
        if raw and "json" in ctype:
            params.update(json.loads(raw))
        elif raw:
            params.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
        for key in ("metadata", "blocks"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    def _store(self, via: str, channel: str | None, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            msg = {
                "via": via,
                "channel": channel,
                "text": body.get("text", ""),
                "blocks": body.get("blocks"),
                "metadata": body.get("metadata"),
                "thread_ts": body.get("thread_ts"),
                "reply_broadcast": str(body.get("reply_broadcast", "")).lower() == "true",
                "ts": f"{time.time():.6f}",
                "received_at": time.time(),
            }
            self.accepted.append(msg)
        return msg


@dataclass
class MarquezStandIn(Receiver):
    """``POST /api/v1/lineage`` with one OpenLineage run event as JSON: ``201``; not a run event: ``422``."""

    REQUIRED = ("eventType", "eventTime", "run", "job", "producer", "schemaURL")

    def events(self) -> list[dict[str, Any]]:
        """Accepted events, in arrival order."""
        with self.lock:
            return list(self.accepted)

    def process(self, h: BaseHTTPRequestHandler, raw: bytes) -> tuple[int, Any]:
        if urlparse(h.path).path.rstrip("/") != "/api/v1/lineage":
            return 404, {"error": "not found"}
        try:
            event = json.loads(raw)
        except ValueError:
            event = None
        if not isinstance(event, dict) or any(key not in event for key in self.REQUIRED):
            return 422, {"error": "not an OpenLineage run event"}
        with self.lock:
            self.accepted.append(event)
        return 201, ""


@dataclass
class PagerDutyStandIn(Receiver):
    """``POST /v2/enqueue`` with PagerDuty's dedup semantics (one open alert per ``dedup_key``)."""

    routing_key: str = "R0UT1NGKEYLOCALTEST0000000000000"
    alerts: dict[str, str] = field(default_factory=dict)  # dedup_key -> triggered | acknowledged | resolved

    def events(self, action: str | None = None) -> list[dict[str, Any]]:
        """Accepted events (optionally of one ``event_action``)."""
        with self.lock:
            return [e for e in self.accepted if action is None or e["event_action"] == action]

    def process(self, h: BaseHTTPRequestHandler, raw: bytes) -> tuple[int, Any]:
        if urlparse(h.path).path != "/v2/enqueue":
            return 404, {"status": "not found"}
        try:
            event = json.loads(raw)
        except ValueError:
            return 400, {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": ["bad JSON"],
            }
        if event.get("routing_key") != self.routing_key:
            return 400, {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": ["Length of 'routing_key' is incorrect"],
            }
        action, key = event.get("event_action"), event.get("dedup_key")
        if action not in ("trigger", "acknowledge", "resolve") or (action != "trigger" and not key):
            return 400, {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": ["bad action"],
            }
        with self.lock:
            key = key or f"generated-{len(self.accepted)}"
            event = {**event, "dedup_key": key, "received_at": time.time()}
            event.pop("routing_key", None)
            self.accepted.append(event)
            state = self.alerts.get(key)
            if action == "trigger" and state in (None, "resolved"):
                self.alerts[key] = "triggered"
            elif action in ("acknowledge", "resolve") and state is not None:
                self.alerts[key] = "acknowledged" if action == "acknowledge" else "resolved"
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}


def make_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A throwaway CA and a 127.0.0.1 server certificate; return (server context, CA bundle path)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pmx local test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx, ca_path
