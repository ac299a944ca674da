"""The SLA test environment on the session stack: Slack/PagerDuty stand-ins, Connections, short retries.

:func:`sla_env` (session fixture, re-exported by ``tests/integration/conftest.py``) starts the stand-ins on
127.0.0.1 (PagerDuty over HTTPS with a CA made for the session), creates the ``slack_alerts`` and
``pagerduty_events`` Connections through the REST API, shortens the retry policy in the stack's copy of
``config/alerting.yml`` and restarts the ``alerts-worker`` component so that it reads it.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from alerts.outbox import Outbox
from local_stack.api_client import ApiError
from local_stack.stack import AirflowStack
from tests.harness.receivers import PagerDutyStandIn, SlackStandIn, make_tls

SLA_DAGS = ("sla_cron", "sla_gated", "sla_starved", "sla_quick", "sla_slowed")
ZERO_POOL = "sla_zero_pool"
TEST_RETRY = {
    "initial_delay_seconds": 0.5,
    "multiplier": 2,
    "max_delay_seconds": 2,
    "timeout_seconds": 3,
    "max_age_hours": 1,
}


def dedup(dag_id: str, run_id: str) -> str:
    """The dedup key of the test SLA of ``dag_id`` for one run."""
    return f"pmx-sla/{dag_id}/{dag_id}_sla/{run_id}"


@dataclass
class SlaEnv:
    """What the SLA tests work with."""

    stack: AirflowStack
    slack: SlackStandIn
    pd: PagerDutyStandIn
    ca_bundle: Path

    @property
    def outbox(self) -> Outbox:
        """The stack's outbox."""
        return Outbox(self.stack.layout.pmx_home / "data" / "alerts" / "outbox.sqlite")

    def slack_messages(self, key: str, kind: str | None = None) -> list[dict[str, Any]]:
        """Slack messages accepted for one dedup key (optionally of one incident kind)."""
        out = []
        for m in self.slack.messages():
            payload = (m.get("metadata") or {}).get("event_payload") or {}
            if payload.get("dedup_key") == key and (kind is None or payload.get("kind") == kind):
                out.append(m)
        return out

    def pd_events(self, key: str, action: str | None = None) -> list[dict[str, Any]]:
        """PagerDuty events accepted for one dedup key (optionally of one action)."""
        return [e for e in self.pd.events(action) if e["dedup_key"] == key]

    def open_all_gates(self, dag_id: str) -> None:
        """Open the gate of every existing run of ``dag_id`` (frees the slots of their waiting sensors)."""
        for run in self.stack.api.dag_runs(dag_id):
            self.open_gate(dag_id, run["dag_run_id"])

    def open_gate(self, dag_id: str, run_id: str) -> None:
        """Let a gated run finish (see tests/integration/dags/sla_scenarios.py)."""
        path = self.stack.layout.pmx_home / "sla_gates" / dag_id / run_id
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def ui_get(self, path: str, token: str | None, **params: Any) -> requests.Response:
        """GET a route of the SLA-misses app with (or without) a bearer token."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(
            f"{self.stack.layout.api_url}/pmx-sla{path}", headers=headers, params=params, timeout=30
        )

    def restart_worker(self, sig: int | None = None) -> None:
        """Restart the alerts-worker component (SIGKILL simulates a crash)."""
        import signal

        self.stack.restart_component("alerts-worker", sig or signal.SIGTERM)


def put_connection(
    stack: AirflowStack, conn_id: str, conn_type: str, password: str, extra: dict[str, Any]
) -> None:
    with contextlib.suppress(ApiError):
        stack.api.request("DELETE", f"/connections/{conn_id}")
    stack.api.request(
        "POST",
        "/connections",
        json={
            "connection_id": conn_id,
            "conn_type": conn_type,
            "password": password,
            "extra": json.dumps(extra),
        },
    )


def short_retries(config_dir: Path) -> None:
    """Delivery retries in seconds, not minutes, in a copy of ``config/`` (``alerting.yml``)."""
    path = config_dir / "alerting.yml"
    cfg = yaml.safe_load(path.read_text())
    cfg["retry"].update(TEST_RETRY)
    cfg["worker"]["run_check_interval_seconds"] = 1
    cfg["worker"]["metrics_interval_seconds"] = 2
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def _pool(stack: AirflowStack, slots: int) -> None:
    body = {
        "name": ZERO_POOL,
        "slots": slots,
        "description": "SLA test: starved until opened",
        "include_deferred": False,
    }
    exists = any(p["name"] == ZERO_POOL for p in stack.api.request("GET", "/pools")["pools"])
    if exists:
        stack.api.request("PATCH", f"/pools/{ZERO_POOL}", json=body)
    else:
        stack.api.request("POST", "/pools", json=body)


def open_pool(stack: AirflowStack, slots: int = 1) -> None:
    """Give the starved pool some slots."""
    _pool(stack, slots)


def not_a_fresh_install(outbox: Outbox) -> None:
    """Give the stack a month of heartbeat history: the SLA tests page real misses, also of past slots' runs.

    On a fresh install the catch-up run of a slot older than the stack's first heartbeat is not paged
    (docs/slas.md#first-start-and-downtime); ``sla_cron``'s first scheduled run can be such a slot when the
    session stack is younger than a minute. tests/integration/test_sla_first_start.py sets its own history.
    """
    from tests.support import wait_for

    wait_for(lambda: outbox.liveness()["first_seen"], 120, "the outbox worker's first heartbeat")
    with outbox.transaction() as conn:
        conn.execute("UPDATE stack_heartbeat SET first_seen = MIN(first_seen, ?) WHERE id = 1",
                     (time.time() - 30 * 86400,))


@pytest.fixture(scope="session")
def sla_env(airflow_stack: AirflowStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlaEnv]:
    """Stand-ins + Connections + short retries on the session stack."""
    tls, ca = make_tls(tmp_path_factory.mktemp("sla-tls"))
    slack, pd = SlackStandIn().start(), PagerDutyStandIn(tls=tls).start()
    stack = airflow_stack
    put_connection(stack, "slack_alerts", "slack", slack.token, {"base_url": slack.api_url})
    put_connection(
        stack,
        "pagerduty_events",
        "pagerduty_events",
        pd.routing_key,
        {"base_url": pd.url, "ca_bundle": str(ca)},
    )
    short_retries(Path(stack.env["PMX_CONFIG_DIR"]))
    env = SlaEnv(stack, slack, pd, ca)
    env.restart_worker()
    not_a_fresh_install(env.outbox)
    _pool(stack, 0)
    stack.api.wait_for_dags(list(SLA_DAGS))
    for dag_id in ("sla_gated", "sla_starved", "sla_quick", "sla_slowed"):
        stack.api.set_paused(dag_id, False)
    try:
        yield env
    finally:
        slack.stop()
        pd.stop()
