"""Random bytes and near-valid lines: the bridge never raises, never stops serving, and ``/metrics`` stays
valid exposition text."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from monitoring.statsd_bridge.bridge import Bridge
from monitoring.statsd_bridge.line import LineParser, ParseStats
from monitoring.statsd_bridge.mapper import MetricMapper
from monitoring.statsd_bridge.selfmetrics import RESERVED_NAMES
from monitoring.statsd_bridge.server import StatsDBridgeServer
from tests.unit.monitoring._support import MAPPING_FILE

NAMES = [
    "airflow.ti.finish",
    "airflow.task.duration",
    "pmx.trading.equity",
    "a",
    "a.b-c",
    "[x=y]n",
    "9x",
    "é",
]
PIECES = [
    ":",
    "|",
    "@",
    "#",
    ",",
    "=",
    "[",
    "]",
    "\n",
    "c",
    "g",
    "ms",
    "h",
    "d",
    "s",
    "0.5",
    "-1",
    "+2",
    "1e308",
    "nan",
    "inf",
    "0x1p3",
    "dag_id",
    "=",
    "|#k:v",
    "|c:id",
    "|@0",
    "|@1e-300",
    "\xff",
    "\x00",
    " ",
]

near_valid = st.builds(
    lambda name, tags, values, kind, extras, noise: f"{name}{tags}:{values}|{kind}{extras}" + noise,
    st.sampled_from(NAMES),
    st.lists(
        st.tuples(st.sampled_from(["dag_id", "k", "", "09", "t.x"]), st.sampled_from(["v", "", "a=b", "é"])),
        max_size=3,
    ).map(lambda kv: "".join(f",{k}={v}" for k, v in kv)),
    st.lists(
        st.sampled_from(["1", "2.5", "-3", "+4", "", "x", "1e400", "0x1p-2", "NaN"]), min_size=1, max_size=4
    ).map(":".join),
    st.sampled_from(["c", "g", "ms", "h", "d", "s", "x", ""]),
    st.lists(
        st.sampled_from(["|@0.1", "|@x", "|#a:b,#c", "|c:ctr", "|c", "|", "|T123", "|@-1"]), max_size=4
    ).map("".join),
    st.lists(st.sampled_from(PIECES), max_size=3).map("".join),
)
packets = st.one_of(
    st.binary(max_size=512),
    st.lists(near_valid, min_size=1, max_size=20).map(
        lambda lines: "\n".join(lines).encode("utf-8", "replace")
    ),
    st.lists(st.sampled_from(PIECES), max_size=40).map(lambda p: "".join(p).encode("utf-8", "surrogatepass")),
)


MAPPER = MetricMapper.from_file(MAPPING_FILE)


def _bridge() -> Bridge:
    return Bridge(MAPPER, reserved_names=RESERVED_NAMES)


def _exposition_is_valid(text: str) -> None:
    families = list(text_string_to_metric_families(text))
    assert families


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(packets, min_size=1, max_size=10))
def test_handle_packet_never_raises(batch: list[bytes]) -> None:
    """In-process: any bytes are either processed or counted as errors."""
    bridge = _bridge()
    for packet in batch:
        bridge.handle_packet(packet)
    with bridge.lock:
        bridge.fold_stats()
    assert bridge.lines >= len(batch)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_parse_line_never_raises(line: str) -> None:
    """The parser on arbitrary text (all four tag styles on)."""
    LineParser().parse_line(line, ParseStats())


@pytest.fixture(scope="module")
def live_server() -> Iterator[StatsDBridgeServer]:
    server = StatsDBridgeServer(
        MetricMapper.from_file(MAPPING_FILE), udp=("127.0.0.1", 0), tcp=None, web=("127.0.0.1", 0)
    )
    with server:
        yield server


def _scrape(server: StatsDBridgeServer) -> str:
    host, port = server.web_address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
        return response.read().decode("utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(packets, min_size=1, max_size=20))
def test_running_bridge_survives_garbage(live_server: StatsDBridgeServer, batch: list[bytes]) -> None:
    """Over real UDP: after every batch ``/metrics`` answers with parseable text."""
    assert live_server.udp is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in batch:
            sock.sendto(packet, live_server.udp.address)
    _exposition_is_valid(_scrape(live_server))


def test_running_bridge_counted_every_packet(live_server: StatsDBridgeServer) -> None:
    """After the fuzzing, a valid line still lands and the receive thread is alive."""
    assert live_server.udp is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"pmx.trading.equity:123|g", live_server.udp.address)
    deadline = time.monotonic() + 5
    while "pmx_trading_equity_usd 123.0" not in _scrape(live_server):
        assert time.monotonic() < deadline, "valid line after fuzzing never arrived"
        time.sleep(0.05)
    assert live_server.udp._thread.is_alive()
