"""The add-on on a DAG that is not ours: a stack whose DAG folder holds only ``acme_orders``.

Real api-server, scheduler, dag-processor, triggerer and outbox worker on their own home and ports, with
their own config dir (slas.yml with a 5 s queued SLA, alerting.yml with a local file channel,
observability.yml) and ``portfolio``/``scripts``/``orchestration``/``local_stack`` impossible to import in
every process. One manual run of ``acme_orders`` misses its SLA; the tests check the listener's JSON events,
the StatsD metrics through the real bridge, the miss in the outbox and at the local channel, and the
SLA-misses view of the api-server.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from alerts.misses import list_misses
from alerts.outbox import Outbox
from foundation.paths import REPO_ROOT
from local_stack.stack import AirflowStack
from tests.integration.foreign_support import DAG_ID, SLA, foreign_stack
from tests.integration.listener_support import listener_events
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # see tests/wait_budget.py; runs in ~2 min


@dataclass
class ForeignRun:
    """The stack, its bridge and the one run of ``acme_orders``."""

    stack: AirflowStack
    bridge: Any
    run_id: str
    run: dict[str, Any]
    tis: dict[str, str]
    started: float

    @property
    def outbox(self) -> Outbox:
        return Outbox(self.stack.layout.pmx_home / "data" / "alerts" / "outbox.sqlite")

    def events(self) -> list[dict[str, Any]]:
        return [e for e in listener_events(Path(self.stack.env["PMX_LOG_DIR"]) / "pipeline")
                if e.get("run_id") == self.run_id]

    def local_channel(self) -> list[dict[str, Any]]:
        path = self.stack.layout.pmx_home / "logs" / "alerts" / "incidents.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []

    def sla_view(self, path: str, token: str | None, **params: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(f"{self.stack.layout.api_url}/pmx-sla{path}", headers=headers, params=params,
                            timeout=30)


def _series(text: str, metric: str, **labels: str) -> list[str]:
    """Lines of the ``/metrics`` page for ``metric`` carrying every label given."""
    return [line for line in text.splitlines() if line.startswith(metric + "{")
            and all(f'{k}="{v}"' in line for k, v in labels.items())]


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForeignRun]:
    from monitoring.statsd_bridge.mapper import MetricMapper
    from monitoring.statsd_bridge.server import StatsDBridgeServer

    started = time.monotonic()
    bridge = StatsDBridgeServer(MetricMapper.from_file(REPO_ROOT / "monitoring" / "statsd_mapping.yml"),
                                udp=("127.0.0.1", 0), web=("127.0.0.1", 0))
    with bridge:
        assert bridge.udp is not None
        stack = foreign_stack(tmp_path_factory.mktemp("foreign"), statsd_port=bridge.udp.address[1])
        stack.migrate()
        stack.start()
        try:
            api = stack.api
            api.wait_for_dags([DAG_ID])
            api.set_paused(DAG_ID, False)
            run_id = api.trigger(DAG_ID)
            run = api.wait_for_run(DAG_ID, run_id, timeout=240)
            tis = {t["task_id"]: t["state"] for t in api.task_instances(DAG_ID, run_id)}
            yield ForeignRun(stack, bridge, run_id, run, tis, started)
        finally:
            stack.stop()


def test_the_foreign_run_succeeds_with_the_trading_pipeline_unimportable(foreign: ForeignRun) -> None:
    assert foreign.run["state"] == "success", foreign.stack.log_tail("scheduler")
    assert foreign.tis == {"receive": "success", "pack": "success"}  # each task checked the blocker itself
    assert foreign.stack.env["PYTHONPATH"].startswith(str(REPO_ROOT / "tests" / "harness" / "block_trading"))


def test_the_listener_writes_the_task_and_run_events(foreign: ForeignRun) -> None:
    def complete() -> list[dict[str, Any]] | None:
        events = foreign.events()
        return events if {e["event"] for e in events} >= {"dag_run_running", "dag_run_success"} else None

    events = wait_for(complete, 60, "the listener's dag_run events of the foreign run")
    per_task: dict[str, list[str]] = {}
    for e in events:
        if e["event"].startswith("task_"):
            assert e["dag_id"] == DAG_ID
            per_task.setdefault(e["task_id"], []).append(e["event"])
    assert per_task == {"receive": ["task_running", "task_success"], "pack": ["task_running", "task_success"]}
    runs = [e["event"] for e in events if e["event"].startswith("dag_run_")]
    assert runs == ["dag_run_running", "dag_run_success"]


def test_statsd_metrics_reach_the_bridge_with_the_foreign_dag_labels(foreign: ForeignRun) -> None:
    def scraped() -> str | None:
        text = foreign.bridge.metrics_text()
        wanted = [_series(text, "pmx_task_events_total", dag_id=DAG_ID, task_id="pack"),
                  _series(text, "pmx_dagrun_events_total", dag_id=DAG_ID),
                  _series(text, "airflow_ti_finish_total", dag_id=DAG_ID, task_id="receive"),
                  _series(text, "pmx_sla_misses_total", dag_id=DAG_ID, sla=SLA)]
        return text if all(wanted) else None

    text = wait_for(scraped, 90, "the foreign DAG's pmx_* and airflow_* series at the bridge")
    (miss,) = _series(text, "pmx_sla_misses_total", dag_id=DAG_ID, sla=SLA)
    assert 'severity="warning"' in miss and float(miss.rsplit(" ", 1)[1]) == 1.0


def test_the_miss_is_in_the_outbox_and_at_the_local_channel(foreign: ForeignRun) -> None:
    (miss,) = wait_for(lambda: list_misses(foreign.outbox, dag_id=DAG_ID), 90, "the miss in the outbox")
    assert (miss["run_id"], miss["sla"], miss["severity"]) == (foreign.run_id, SLA, "warning")
    key = f"pmx-sla/{DAG_ID}/{SLA}/{foreign.run_id}"
    delivered = wait_for(lambda: [i for i in foreign.local_channel() if key in json.dumps(i)], 90,
                         "the miss at the local file channel")
    assert delivered and "https://acme.example/runbooks/orders" in json.dumps(delivered[0])


def test_the_sla_view_of_the_api_server_lists_the_miss(foreign: ForeignRun) -> None:
    token = foreign.stack.api.token()
    misses = wait_for(lambda: foreign.sla_view("/api/misses", token, dag_id=DAG_ID).json()["misses"], 90,
                      "the miss in the SLA view")
    (miss,) = misses
    assert (miss["dag_id"], miss["run_id"], miss["sla"]) == (DAG_ID, foreign.run_id, SLA)
    assert miss["timezone"] == "Europe/Berlin"  # slas.yml's own timezone, no orchestration.yml anywhere
    page = foreign.sla_view("/ui", token, dag_id=DAG_ID)
    assert page.status_code == 200 and re.search(re.escape(foreign.run_id), page.text)
    assert foreign.sla_view("/api/misses", None).status_code == 401


def test_the_whole_foreign_stack_stays_within_budget(foreign: ForeignRun) -> None:
    assert time.monotonic() - foreign.started < 300  # start-up, one run, one miss: a few minutes at most
