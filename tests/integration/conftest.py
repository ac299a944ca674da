"""One real Airflow stack per test session (api-server, scheduler, dag-processor, triggerer) on its own ports.

The stack parses the project's ``dags/`` plus ``tests/integration/dags/``, sends its StatsD traffic to a
recording UDP sink (which can forward to a StatsD-to-Prometheus bridge), and uses a copy of ``config/`` with
short retry delays so that retry scenarios finish in seconds.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from collections.abc import Iterator

import pytest

from foundation.paths import REPO_ROOT
from local_stack.airflow_env import StackLayout
from local_stack.stack import AirflowStack
from tests.integration.stack_support import copy_test_config, dag_bundles
from tests.support import free_port


class StatsdSink:
    """Records every StatsD datagram sent to it and optionally forwards each to other UDP targets."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.packets: list[str] = []
        self.forward_to: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="statsd-sink", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        while True:
            try:
                data = self.sock.recv(65535)
            except OSError:
                return
            with self._lock:
                self.packets.append(data.decode("utf-8", "replace"))
                targets = list(self.forward_to)
            for target in targets:
                with contextlib.suppress(OSError):
                    out.sendto(data, target)

    def lines(self) -> list[str]:
        """Every StatsD line received so far."""
        with self._lock:
            return [line for packet in self.packets for line in packet.splitlines() if line]

    def close(self) -> None:
        """Stop receiving."""
        self.sock.close()


@pytest.fixture(scope="session")
def statsd_sink() -> Iterator[StatsdSink]:
    """The UDP sink every stack component sends its StatsD metrics to."""
    sink = StatsdSink()
    yield sink
    sink.close()


@pytest.fixture(scope="session")
def airflow_stack(tmp_path_factory: pytest.TempPathFactory, statsd_sink: StatsdSink) -> Iterator[AirflowStack]:
    """A running stack shared by the integration tests of the session."""
    root = tmp_path_factory.mktemp("stack")
    config_dir = copy_test_config(root / "config")
    layout = StackLayout(
        home=root / "airflow", api_port=free_port(), statsd_port=statsd_sink.port, log_port=free_port(),
        trigger_log_port=free_port(), scheduler_health_port=free_port(), pmx_home=root / "pmx",
        extra={"AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": dag_bundles(),
               "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
               "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
               # admin as shipped, plus one user per SimpleAuthManager role the SLA view's access tests need
               "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer,editor:user,norole:"},
    )
    stack = AirflowStack(layout, extra_env={"PMX_CONFIG_DIR": str(config_dir),
                                            "PMX_LOG_DIR": str(root / "pmx" / "logs"),
                                            "PMX_STATSD_ENABLED": "true"})
    from local_stack.run import bootstrap

    bootstrap(stack)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A module that ``make test`` runs beside the session stack (tests/stack_groups.py) must not use it: on the
    other worker it would start a second one."""
    from tests.stack_groups import OWN_STACK_MODULES

    wrong = sorted({item.path.name for item in items if item.path.stem in OWN_STACK_MODULES
                    and "airflow_stack" in getattr(item, "fixturenames", ())})
    if wrong:
        raise pytest.UsageError(f"{', '.join(wrong)} use the session stack: remove them from "
                                "tests/stack_groups.py OWN_STACK_MODULES")


# -- SLA tests (alerts/): Slack/PagerDuty stand-ins, Connections and short retries on the session stack -------
from tests.integration.sla_support import sla_env  # noqa: E402,F401  (session fixture, see sla_support.py)

# -- the whole DAG set, observed end to end ---------------------------------------------------------------
DAG_SET_BUDGET_SECONDS = 900  # all twelve DAGs at once on 2 busy cores; the tests using it say timeout(1500)
# tickers = tickers.core. The trading panels and metrics need the set to trade, and whether a session's synthetic
# signal trades depends on the session (2026-12-07 holds both tickers, 2026-12-04 buys AAPL): the set trades the
# pinned last session, in a database of its own (the scheduled catch-up runs of the unpaused DAGs load today's
# session into the stack's database, and a cycle trades the newest bar it finds).
DAG_SET_CONF = {"execution_mode": "synthetic", "tickers": "AAPL,MSFT", "start_date": "2024-01-02",
                "end_date": "2026-12-04", "database_path": "data/dag_set.db"}
# The standalone trading DAGs start once daily_etl has loaded and forecast the session: a cycle that came first
# would take the bar without the stored forecast (computing its own) and, bar-aware, leave nothing to trade
# for the cycles after it.
TRADE_ON_LOADED_DATA = ("auto_trader", "auto_trader_core")


@pytest.fixture(scope="session")
def prometheus(airflow_stack: AirflowStack, statsd_sink: StatsdSink,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A StatsD-to-Prometheus bridge fed with everything the stack sends, scraped by a real Prometheus."""
    import time

    from monitoring.statsd_bridge.mapper import MetricMapper
    from monitoring.statsd_bridge.server import StatsDBridgeServer
    from tests.harness.promql_probe import PrometheusServer, rule_files
    from tests.support import require

    require(shutil.which("prometheus") is not None, "prometheus not installed (apt-get install prometheus)")
    bridge = StatsDBridgeServer(MetricMapper.from_file(REPO_ROOT / "monitoring" / "statsd_mapping.yml"),
                                udp=("127.0.0.1", 0), web=("127.0.0.1", 0))
    with bridge:
        assert bridge.udp is not None
        statsd_sink.forward_to.append(bridge.udp.address)
        host, port = bridge.web_address
        server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), {"statsd": [f"{host}:{port}"]},
                                  rules=rule_files())
        try:
            with server:
                deadline = time.monotonic() + 60
                while not server.targets_up():
                    assert time.monotonic() < deadline, "Prometheus never scraped the bridge"
                    time.sleep(0.5)
                yield server
        finally:
            statsd_sink.forward_to.remove(bridge.udp.address)


@pytest.fixture(scope="session")
def dag_set_runs(airflow_stack: AirflowStack, prometheus: object) -> dict[str, dict]:
    """All twelve DAGs triggered at once in synthetic mode (observed by ``prometheus``); the finished runs."""
    import time

    from orchestration.config import DAG_IDS

    api = airflow_stack.api
    api.wait_for_dags(list(DAG_IDS))
    run_ids = {}
    first = [d for d in DAG_IDS if d not in TRADE_ON_LOADED_DATA]
    for dag_id in DAG_IDS:
        api.set_paused(dag_id, False)
    for dag_id in first:
        run_ids[dag_id] = api.trigger(dag_id, conf=DAG_SET_CONF)
    deadline = time.monotonic() + DAG_SET_BUDGET_SECONDS  # one budget for the whole set: the runs go at once
    runs = {"daily_etl": api.wait_for_run("daily_etl", run_ids["daily_etl"],  # wait-budget: 0
                                          timeout=max(1.0, deadline - time.monotonic()))}
    for dag_id in TRADE_ON_LOADED_DATA:
        run_ids[dag_id] = api.trigger(dag_id, conf=DAG_SET_CONF)
    for dag_id, run_id in run_ids.items():
        left = max(1.0, deadline - time.monotonic())
        if dag_id not in runs:
            runs[dag_id] = api.wait_for_run(dag_id, run_id, timeout=left)  # wait-budget: 0
    for dag_id in DAG_IDS:  # no cron or asset-triggered runs behind the backs of later tests
        api.set_paused(dag_id, True)
    return runs
