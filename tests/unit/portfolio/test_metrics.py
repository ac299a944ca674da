from __future__ import annotations

import socket

import pytest

from foundation.metrics import StatsdClient


@pytest.fixture
def udp_receiver():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    yield sock
    sock.close()


def test_influx_tagged_lines_reach_a_udp_socket(udp_receiver: socket.socket) -> None:
    client = StatsdClient("127.0.0.1", udp_receiver.getsockname()[1])
    client.incr("task.event", tags={"dag_id": "daily_etl", "task_id": "load,x", "state": "success"})
    client.timing("task.duration", 1234.5, tags={"dag_id": "d"})
    client.gauge("trading.pnl", -12.5)
    received = [udp_receiver.recv(4096).decode() for _ in range(4)]
    assert received == [
        "pmx.task.event,dag_id=daily_etl,task_id=load_x,state=success:1|c",
        "pmx.task.duration,dag_id=d:1234.5|ms",
        "pmx.trading.pnl:0|g",
        "pmx.trading.pnl:-12.5|g",
    ]


def test_unresolvable_host_is_counted_not_raised(pmx_home) -> None:
    client = StatsdClient("no-such-host.invalid", 9125)
    client.incr("x")
    assert client.failures == 1


def test_closed_port_never_raises(udp_receiver: socket.socket) -> None:
    port = udp_receiver.getsockname()[1]
    udp_receiver.close()
    client = StatsdClient("127.0.0.1", port)
    for _ in range(20):
        client.incr("x")  # must not raise although nobody listens
    assert client.sent + client.failures == 20
