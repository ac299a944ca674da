"""One real Airflow stack per test session (api-server, scheduler, dag-processor, triggerer) on its own ports.

The stack parses the project's ``dags/`` plus ``tests/integration/dags/``, sends its StatsD traffic to a
recording UDP sink (which can forward to a StatsD-to-Prometheus bridge), and uses a copy of ``config/`` with
short retry delays so that retry scenarios finish in seconds.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from orchestration.airflow_env import StackLayout
from orchestration.stack import AirflowStack
from portfolio.paths import REPO_ROOT
from tests.support import free_port

TEST_DAGS = Path(__file__).parent / "dags"


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
                try:
                    out.sendto(data, target)
                except OSError:
                    pass

    def lines(self) -> list[str]:
        """Every StatsD line received so far."""
        with self._lock:
            return [line for packet in self.packets for line in packet.splitlines() if line]

    def close(self) -> None:
        """Stop receiving."""
        self.sock.close()


def _test_config(target: Path) -> Path:
    """A copy of ``config/`` with retry delays of one second (behaviour, not timing, is what tests check)."""
    shutil.copytree(REPO_ROOT / "config", target)
    orch_file = target / "orchestration.yml"
    orch = yaml.safe_load(orch_file.read_text())
    for spec in orch["retries"].values():
        spec["delay_seconds"] = 1 if spec["retries"] else 0
        spec.pop("max_delay_seconds", None)
    orch["market_hours"]["poke_interval_seconds"] = 2
    orch["market_hours"]["timeout_seconds"] = 4
    orch_file.write_text(yaml.safe_dump(orch, sort_keys=False))
    return target


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
    config_dir = _test_config(root / "config")
    bundles = [
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(REPO_ROOT / "dags")}},
        {"name": "test-dags", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(TEST_DAGS)}},
    ]
    layout = StackLayout(
        home=root / "airflow", api_port=free_port(), statsd_port=statsd_sink.port, log_port=free_port(),
        trigger_log_port=free_port(), scheduler_health_port=free_port(), pmx_home=root / "pmx",
        extra={"AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
               "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
               "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5"},
    )
    stack = AirflowStack(layout, extra_env={"PMX_CONFIG_DIR": str(config_dir), "PMX_LOG_DIR": str(root / "pmx" / "logs"),
                                            "PMX_STATSD_ENABLED": "true"})
    from orchestration.run import bootstrap

    bootstrap(stack)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
