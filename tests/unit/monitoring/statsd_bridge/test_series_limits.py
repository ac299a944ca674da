"""Bounded series: the shipped mapping's default TTL and the bridge's series caps, under a flood of tags.

The flood tests send thousands of distinct tag values over real UDP to a running bridge server on 127.0.0.1
and read the outcome from its ``/metrics``.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitoring.statsd_bridge.__main__ import main
from monitoring.statsd_bridge.bridge import Bridge
from monitoring.statsd_bridge.mapper import MetricMapper
from monitoring.statsd_bridge.registry import SeriesLimits
from monitoring.statsd_bridge.server import DEFAULT_LIMITS, StatsDBridgeServer

REPO = Path(__file__).resolve().parents[4]
SHIPPED = REPO / "monitoring" / "statsd_mapping.yml"
HOUR = 3600.0


def scrape(server: StatsDBridgeServer) -> str:
    host, port = server.web_address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def value(text: str, sample: str) -> float:
    """The value of one sample line (``name{labels}``) on a /metrics page; 0 when absent."""
    found = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def wait_until(server: StatsDBridgeServer, check: object, what: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = scrape(server)
        if check(text):  # type: ignore[operator]
            return text
        time.sleep(0.1)
    raise AssertionError(f"{what} never happened; last /metrics:\n{text[-3000:]}")


def flood(address: tuple[str, int], name: str, count: int, start: int = 0, per_packet: int = 40) -> int:
    """Send ``count`` counter lines with distinct ``id`` tag values over UDP; return the lines sent."""
    lines = [f"{name},id=t{i}:1|c".encode() for i in range(start, start + count)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for n, offset in enumerate(range(0, len(lines), per_packet)):
            sock.sendto(b"\n".join(lines[offset:offset + per_packet]), address)
            if n % 20 == 19:
                time.sleep(0.002)  # let the bridge drain its socket: the test counts every line
    return len(lines)


def lines_counted(text: str) -> float:
    return value(text, "statsd_exporter_lines_total")


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[StatsDBridgeServer]:
    """A bridge capped at 300 series per metric and 500 in total (mapping without a TTL)."""
    mapping = tmp_path / "mapping.yml"
    mapping.write_text("mappings:\n- {match: flood.a, name: flood_a_total}\n- {match: flood.b, name: flood_b_total}\n")
    server = StatsDBridgeServer(MetricMapper.from_file(mapping), udp=("127.0.0.1", 0), web=("127.0.0.1", 0),
                                limits=SeriesLimits(total=500, per_metric=300))
    with server:
        yield server


def test_a_flood_of_distinct_tags_is_capped_per_metric_and_in_total(capped: StatsDBridgeServer) -> None:
    assert capped.udp is not None
    sent = flood(capped.udp.address, "flood.a", 2000)
    text = wait_until(capped, lambda t: lines_counted(t) >= sent, f"{sent} lines counted")
    assert value(text, "statsd_bridge_series") == 300
    assert value(text, 'statsd_bridge_series_limit_drops_total{limit="per_metric"}') == sent - 300
    assert value(text, 'statsd_bridge_series_limit{limit="per_metric"}') == 300
    assert len(re.findall(r"^flood_a_total\{", text, re.MULTILINE)) == 300
    assert value(text, 'flood_a_total{id="t0"}') == 1.0  # the admitted series keep counting

    sent += flood(capped.udp.address, "flood.b", 2000)
    text = wait_until(capped, lambda t: lines_counted(t) >= sent, f"{sent} lines counted")
    assert value(text, "statsd_bridge_series") == 500
    assert len(re.findall(r"^flood_b_total\{", text, re.MULTILINE)) == 200
    assert value(text, 'statsd_bridge_series_limit_drops_total{limit="total"}') == 1800
    assert value(text, 'statsd_exporter_events_total{type="counter"}') == 500


def test_an_admitted_series_keeps_counting_when_the_cap_is_full(capped: StatsDBridgeServer) -> None:
    assert capped.udp is not None
    sent = flood(capped.udp.address, "flood.a", 1000)
    sent += flood(capped.udp.address, "flood.a", 10)  # t0..t9 again: existing series, not refused
    text = wait_until(capped, lambda t: lines_counted(t) >= sent, f"{sent} lines counted")
    assert value(text, 'flood_a_total{id="t9"}') == 2.0
    assert value(text, 'statsd_bridge_series_limit_drops_total{limit="per_metric"}') == 700


def test_a_ttl_expires_a_flood_and_frees_the_cap(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yml"
    mapping.write_text("defaults:\n  ttl: 1s\nmappings: []\n")
    server = StatsDBridgeServer(MetricMapper.from_file(mapping), udp=("127.0.0.1", 0), web=("127.0.0.1", 0),
                                limits=SeriesLimits(total=3000, per_metric=3000))
    with server:
        assert server.udp is not None
        sent = flood(server.udp.address, "unmapped.flood", 3000)
        wait_until(server, lambda t: lines_counted(t) >= sent, f"{sent} lines counted")
        wait_until(server, lambda t: value(t, "statsd_bridge_series") == 0, "the flood expired")
        text = scrape(server)  # a page rendered after the expiry (one scrape reads the series, then the count)
        assert "unmapped_flood{" not in text
        assert value(text, 'statsd_exporter_metrics_total{type="counter"}') == 0  # the family went too
        sent += flood(server.udp.address, "unmapped.flood", 3000, start=3000)  # room again after expiry
        text = wait_until(server, lambda t: lines_counted(t) >= sent, f"{sent} lines counted")
        assert value(text, 'statsd_bridge_series_limit_drops_total{limit="total"}') == 0


@pytest.mark.parametrize(
    ("line", "metric"),
    [
        pytest.param(b"some.unknown.metric,id=x:1|c", "some_unknown_metric", id="unmapped"),
        pytest.param(b"pmx.task.event,dag_id=d,task_id=t,state=success:1|c", "pmx_task_events_total",
                     id="mapped-without-own-ttl"),
    ],
)
def test_the_shipped_mapping_expires_every_series_after_its_default_ttl(line: bytes, metric: str) -> None:
    mapper = MetricMapper.from_file(SHIPPED)
    assert mapper.defaults.ttl == 192 * HOUR
    bridge = Bridge(mapper)
    bridge.handle_packet(line, now=1000.0)
    assert metric in bridge.registry.families
    assert bridge.expire(now=1000.0 + 191 * HOUR) == 0  # a week and a weekend: still there
    assert bridge.expire(now=1000.0 + 193 * HOUR) == 1
    assert metric not in bridge.registry.families and bridge.registry.series_count == 0


def test_a_mapping_with_its_own_shorter_ttl_keeps_it() -> None:
    bridge = Bridge(MetricMapper.from_file(SHIPPED))
    bridge.handle_packet(b"airflow.ti.running,queue=default,dag_id=d,task_id=t:1|g", now=0.0)
    assert bridge.expire(now=11 * 60.0) == 1  # airflow_ti_*: 10 min


def test_the_command_line_sets_the_caps_and_refuses_negative_ones(capsys: pytest.CaptureFixture[str]) -> None:
    from monitoring.statsd_bridge.__main__ import build_parser

    args = build_parser().parse_args([])
    assert (args.max_series, args.max_series_per_metric) == (DEFAULT_LIMITS.total, DEFAULT_LIMITS.per_metric)
    assert DEFAULT_LIMITS.total > 0 and DEFAULT_LIMITS.per_metric > 0  # the shipped bridge is bounded
    assert main(["--statsd.max-series", "-1", "--check-config"]) == 2
    assert "series limits must be >= 0" in capsys.readouterr().err


def test_without_limits_the_bridge_behaves_as_statsd_exporter() -> None:
    bridge = Bridge(MetricMapper())
    for i in range(2000):
        bridge.handle_packet(f"x.y,id={i}:1|c".encode(), now=0.0)
    assert bridge.registry.series_count == 2000 and not bridge.event_stats.limited
