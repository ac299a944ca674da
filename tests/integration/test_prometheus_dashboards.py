"""A real Prometheus scrapes a running bridge fed with Airflow-style and ``pmx.*`` traffic: every dashboard
panel query and every recording rule returns data, and the rule files load without error."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitoring.statsd_bridge.mapper import MetricMapper
from monitoring.statsd_bridge.server import StatsDBridgeServer
from tests.harness import statsd_traffic
from tests.harness.promql_probe import (
    PrometheusServer,
    panel_queries,
    probe,
    probe_everything,
    recording_rules,
    rule_files,
    substitute,
    variable_queries,
    without_zero_fallback,
)
from tests.support import require

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


class TrafficSender:
    """Sends synthetic traffic to the bridge every ``period`` seconds until stopped."""

    def __init__(self, address: tuple[str, int], period: float = 0.5) -> None:
        self.address = address
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        stream = statsd_traffic.packets(seed=7, lines_per_packet=10)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while not self._stop.is_set():
                lines = 0
                for packet in stream:
                    sock.sendto(packet, self.address)
                    lines += packet.count(b"\n") + 1
                    if lines >= 400:
                        break
                self._stop.wait(self.period)

    def __enter__(self) -> TrafficSender:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StatsDBridgeServer, PrometheusServer]]:
    require(shutil.which("prometheus") is not None, "prometheus not installed (apt-get install prometheus)")
    mapper = MetricMapper.from_file(REPO / "monitoring" / "statsd_mapping.yml")
    bridge = StatsDBridgeServer(mapper, udp=("127.0.0.1", 0), web=("127.0.0.1", 0))
    with bridge:
        host, port = bridge.web_address
        prom = PrometheusServer(
            tmp_path_factory.mktemp("prometheus"), {"statsd": [f"{host}:{port}"]}, rules=rule_files()
        )
        assert bridge.udp is not None
        with prom, TrafficSender(bridge.udp.address):
            deadline = time.monotonic() + 30
            while not prom.targets_up():
                assert time.monotonic() < deadline, "Prometheus never scraped the bridge"
                time.sleep(0.5)
            yield bridge, prom


def test_every_panel_query_returns_data(stack: tuple[StatsDBridgeServer, PrometheusServer]) -> None:
    """Each target of each dashboard (Grafana variables set to All, intervals to fixed durations)."""
    _, prom = stack
    queries = panel_queries()
    assert len(queries) > 50
    assert probe(prom, queries, timeout=90) == {}


def test_every_recording_rule_returns_data(stack: tuple[StatsDBridgeServer, PrometheusServer]) -> None:
    """Each recorded series exists once the rules have been evaluated on real scrapes."""
    _, prom = stack
    assert probe(prom, recording_rules(), timeout=90) == {}


def test_zero_fallbacks_hide_no_missing_metric(stack: tuple[StatsDBridgeServer, PrometheusServer]) -> None:
    """With the traffic covering every metric, each query also returns data without its ``or on() vector(0)``:
    a misspelt metric name cannot hide behind the zero fallback."""
    _, prom = stack
    queries = [without_zero_fallback(q) for q in panel_queries() + recording_rules(by_expression=True)]
    assert probe(prom, queries, timeout=90) == {}


def test_every_template_variable_lists_values(stack: tuple[StatsDBridgeServer, PrometheusServer]) -> None:
    """Each ``label_values(...)`` variable (dag_id, task_id, ticker) offers at least one value (the SLA picker is a
    fixed list from config/slas.yml, checked by the dashboard unit tests)."""
    _, prom = stack
    variables = variable_queries()
    assert {q.title for q, _ in variables} >= {
        "variable dag_id",
        "variable task_id",
        "variable ticker",
    }
    empty = [q.label() for q, label in variables if not prom.label_values(label, substitute(q.expr))]
    assert empty == []


def test_rule_groups_evaluate_without_errors(stack: tuple[StatsDBridgeServer, PrometheusServer]) -> None:
    """Prometheus loaded every rule group and no rule reports an evaluation error."""
    _, prom = stack
    groups = prom.api("rules")["groups"]
    assert {g["file"] for g in groups} == {str(p) for p in rule_files()}
    broken = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r.get("health") == "err"]
    assert broken == []


def test_probe_everything_is_clean(stack: tuple[StatsDBridgeServer, PrometheusServer]) -> None:
    """The one-call helper the DAG-set end-to-end test uses."""
    _, prom = stack
    assert probe_everything(prom, timeout=60) == {}


def test_bridge_loses_nothing_from_clean_traffic(stack: tuple[StatsDBridgeServer, PrometheusServer]) -> None:
    """The synthetic traffic is valid: no parse errors, no conflicts (only Airflow's refused decrements)."""
    _, prom = stack
    assert prom.query("statsd_bridge:lost_events:rate5m > 0") == []
    assert prom.query("statsd_exporter_events_unmapped_total > 0") == []
