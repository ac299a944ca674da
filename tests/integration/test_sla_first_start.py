"""A quiet first start on the real stack: the catch-up run of a fresh install is not paged; after downtime the
miss is paged once with the window the stack was down, and lands in the local file channel.

The verdict reads the heartbeat the session stack's outbox worker writes (``stack_heartbeat``). The test sets
the history it needs in that table before unpausing each DAG: installed now for the fresh install; installed
two days ago and down since yesterday for the downtime case, as a worker restarted after an outage records it.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.outbox import Outbox
from local_stack.stack import AirflowStack
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]  # see tests/wait_budget.py


def _outbox(stack: AirflowStack) -> Outbox:
    return Outbox(stack.layout.pmx_home / "data" / "alerts" / "outbox.sqlite")


def _events(stack: AirflowStack, event: str, dag_id: str) -> list[dict]:
    out = []
    for path in Path(stack.env["PMX_LOG_DIR"]).rglob("*.jsonl"):
        for line in path.read_text(errors="replace").splitlines():
            if f'"{event}"' in line and dag_id in line:
                record = json.loads(line)
                if record.get("event") == event and record.get("dag_id") == dag_id:
                    out.append(record)
    return out


def _catch_up_run(stack: AirflowStack, dag_id: str) -> str:
    stack.api.wait_for_dags([dag_id])
    stack.api.set_paused(dag_id, False)
    try:
        run = wait_for(lambda: [r for r in stack.api.dag_runs(dag_id) if r["run_type"] == "scheduled"], 180,
                       f"the catch-up run of {dag_id}")[0]
        stack.api.wait_for_run(dag_id, run["dag_run_id"], timeout=300)
    finally:
        stack.api.set_paused(dag_id, True)
    return str(run["dag_run_id"])


def test_fresh_install_then_downtime(airflow_stack: AirflowStack) -> None:
    stack, outbox = airflow_stack, _outbox(airflow_stack)
    wait_for(lambda: outbox.liveness()["first_seen"], 120, "the outbox worker's first heartbeat")
    with outbox.connect() as conn:  # put back afterwards: later tests of the session judge against it
        first_seen = conn.execute("SELECT first_seen FROM stack_heartbeat WHERE id = 1").fetchone()[0]
        last_outage = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM stack_outages").fetchone()[0]
    try:
        _fresh_install_then_downtime(stack, outbox)
    finally:
        with outbox.transaction() as conn:
            conn.execute("UPDATE stack_heartbeat SET first_seen = ? WHERE id = 1", (first_seen,))
            conn.execute("DELETE FROM stack_outages WHERE rowid > ?", (last_outage,))


def _fresh_install_then_downtime(stack: AirflowStack, outbox: Outbox) -> None:
    with outbox.transaction() as conn:  # installed now (earlier SLA tests of the session gave it a history)
        conn.execute("UPDATE stack_heartbeat SET first_seen = ? WHERE id = 1", (time.time(),))

    # 1. fresh install: today's 00:05 UTC deadline passed before the stack's first heartbeat
    run_id = _catch_up_run(stack, "sla_first_start")
    (event,) = wait_for(lambda: _events(stack, "sla_catch_up_not_paged", "sla_first_start"), 180,
                        "the deadline callback of the catch-up run")
    assert event["run_id"] == run_id
    assert outbox.find("sla_miss", f"pmx-sla/sla_first_start/sla_first_start_sla/{run_id}") is None

    # 2. downtime: installed two days ago, last seen alive yesterday, back a minute ago
    now = time.time()
    with outbox.transaction() as conn:
        conn.execute("UPDATE stack_heartbeat SET first_seen = ? WHERE id = 1", (now - 2 * 86400,))
        conn.execute("INSERT INTO stack_outages (down_from, down_until) VALUES (?, ?)", (now - 86400, now - 60))
    run_id = _catch_up_run(stack, "sla_after_downtime")
    key = f"pmx-sla/sla_after_downtime/sla_after_downtime_sla/{run_id}"
    miss = wait_for(lambda: outbox.find("sla_miss", key), 180, "the downtime miss")
    down_from = datetime.fromtimestamp(now - 86400, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert f"the stack was down from {down_from}" in miss["summary"]
    assert json.loads(miss["payload"])["details"]["downtime"]["from"].startswith(down_from)

    deliveries = wait_for(lambda: (d := outbox.deliveries(miss["id"])) and all(
        r["status"] not in ("pending", "sending") for r in d) and d, 180, "the deliveries of the miss")
    status = {d["channel"]: d["status"] for d in deliveries}
    assert status["local"] == "delivered"
    # pagerduty: delivered when an earlier test of the session defined its Connection, else not configured
    assert status["pagerduty"] in ("delivered", "not_configured") and "dead_letter" not in status.values()
    lines = (stack.layout.pmx_home / "logs" / "alerts" / "incidents.jsonl").read_text().splitlines()
    misses = [r for r in map(json.loads, lines) if (r["dedup_key"], r["kind"]) == (key, "sla_miss")]
    assert len(misses) == 1, "paged once (its recovery may follow as its own line)"
    assert stack.api.dag_run("sla_after_downtime", run_id)["state"] == "success"
