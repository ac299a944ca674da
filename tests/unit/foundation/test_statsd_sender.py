"""The one StatsD sender: UTF-8 lines, batched datagrams, failures counted and never raised."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from foundation.statsd_sender import StatsdSender, tag_text, value_text


@pytest.fixture
def sink() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    yield sock
    sock.close()


def _sender(port: int, failures: list[str], **kwargs: object) -> StatsdSender:
    return StatsdSender(lambda reason, exc: failures.append(reason), target=lambda: ("127.0.0.1", port, True),
                        **kwargs)  # type: ignore[arg-type]


def test_non_ascii_is_sent_as_utf8_and_an_unencodable_line_is_a_counted_failure(sink: socket.socket) -> None:
    failures: list[str] = []
    sender = _sender(sink.getsockname()[1], failures)
    sender.send([sender.line("task.event", 1, "c", {"dag_id": "café"})])
    assert sink.recv(4096).decode("utf-8") == "pmx.task.event,dag_id=café:1|c"
    sender.send(["pmx.bad\udcff:1|c"])  # a lone surrogate: statsd's own ASCII encoding would raise here
    assert failures == ["statsd_send"] and sender.sent == 1


def test_lines_are_batched_below_the_packet_size(sink: socket.socket) -> None:
    failures: list[str] = []
    sender = _sender(sink.getsockname()[1], failures, max_packet=100)
    lines = [f"pmx.a,k={i:02d}:1|c" for i in range(20)]
    sender.send(lines)
    packets = [sink.recv(4096).decode() for _ in range(sender.sent)]
    assert all(len(p) < 100 for p in packets) and len(packets) > 1
    assert [x for p in packets for x in p.splitlines()] == lines and failures == []


def test_a_host_name_without_a_resolver_is_resolved_when_opened(sink: socket.socket) -> None:
    sender = StatsdSender(lambda reason, exc: None, target=lambda: ("localhost", sink.getsockname()[1], True))
    sender.send(["pmx.a:1|c"])
    assert sink.recv(4096) == b"pmx.a:1|c" and sender.dropped == 0


def test_formatters() -> None:
    assert tag_text({"a": "x,y=z", "b": None, "c": ""}) == ",a=x_y_z,c=_"
    assert [value_text(v) for v in (1, 2.5, 1.0, float("nan"), 1 / 3)] == ["1", "2.5", "1", "0", "0.333333"]
