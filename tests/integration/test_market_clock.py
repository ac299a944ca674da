"""The market clock under the real scheduler, with the shipped ``market_hours`` settings, in live mode.

The sensor's instant is pinned through the run conf (``market_clock_at``); live mode has no network here, so the
data the cycle trades on was loaded beforehand by the project's ETL in ``auto`` mode (live sources first, then
the local synthetic failover), exactly as staging does when its sources are down.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from typing import Any

import pytest

from alerts.incident import sla_dedup_key
from alerts.outbox import Outbox
from local_stack.stack import AirflowStack
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]  # see tests/wait_budget.py
TICKERS = "AAPL,MSFT"
CLOSED_SATURDAY = "2026-12-05T15:00:00+00:00"    # Saturday 10:00 New York
OPEN_THURSDAY = "2026-12-03T15:00:00+00:00"      # Thursday 10:00 New York
LIVE = {"execution_mode": "live", "tickers": TICKERS, "start_date": "2024-01-02"}


def _outbox(stack: AirflowStack) -> Outbox:
    return Outbox(stack.layout.pmx_home / "data" / "alerts" / "outbox.sqlite")


def _incidents(stack: AirflowStack, run_id: str) -> list[dict[str, Any]]:
    with _outbox(stack).connect() as conn:
        rows = conn.execute("SELECT kind, severity, dag_id, sla FROM incidents WHERE run_id = ?", (run_id,))
        return [dict(r) for r in rows.fetchall()]


def _states(stack: AirflowStack, dag_id: str, run_id: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for ti in stack.api.task_instances(dag_id, run_id):
        key = ti["task_id"] if ti.get("map_index", -1) < 0 else f"{ti['task_id']}[{ti['map_index']}]"
        out[key] = ti["state"]
    return out


def _seconds(run: dict[str, Any]) -> float:
    def ts(v: str) -> datetime:
        return datetime.fromisoformat(v.replace("Z", "+00:00"))

    return (ts(run["end_date"]) - ts(run["queued_at"])).total_seconds()


def _settle(stack: AirflowStack, dag_id: str) -> None:
    """Wait until ``dag_id`` has had no queued or running run for three polls in a row (6 s)."""
    quiet = {"polls": 0}

    def idle() -> bool:
        active = [r for r in stack.api.dag_runs(dag_id) if r["state"] in ("queued", "running")]
        quiet["polls"] = 0 if active else quiet["polls"] + 1
        return quiet["polls"] >= 3

    wait_for(idle, 240, f"no active {dag_id} run", poll=2)


@pytest.fixture(scope="module")
def clock_stack(airflow_stack: AirflowStack) -> AirflowStack:
    """The session stack with market data loaded (ETL in auto mode: no network -> synthetic failover)."""
    stack = airflow_stack
    stack.api.wait_for_dags(["auto_trader", "market_clock_slow"])
    proc = subprocess.run([sys.executable, "-m", "scripts.run_etl_pipeline", "--tickers", TICKERS,
                           "--start-date", "2024-01-02", "--mode", "auto"], env=stack.env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "synthetic" in proc.stdout + proc.stderr  # the failover said what it delivered
    for dag_id in ("auto_trader", "market_clock_slow"):
        stack.api.set_paused(dag_id, False)
    _settle(stack, "auto_trader")  # unpausing starts the latest past cron slot: let it finish first
    yield stack
    for dag_id in ("auto_trader", "market_clock_slow"):
        stack.api.set_paused(dag_id, True)


def test_a_closed_instant_skips_the_cycle_at_once_without_an_incident(clock_stack: AirflowStack) -> None:
    api = clock_stack.api
    run_id = api.trigger("auto_trader", conf={**LIVE, "market_clock_at": CLOSED_SATURDAY})
    run = api.wait_for_run("auto_trader", run_id, timeout=240)
    states = _states(clock_stack, "auto_trader", run_id)
    assert run["state"] == "success", states
    assert states["trading.market_open"] == "skipped"
    assert states["trading.trade"] == "skipped" and states["trading.snapshot"] == "skipped"
    took = _seconds(run)
    print(f"closed cycle: queued -> end {took:.1f}s")
    assert took < 300  # inside the auto_trader_cycle budget (queued + 5m): no deadline can fire for it
    log = api.request("GET", f"/dags/auto_trader/dagRuns/{run_id}/taskInstances/trading.market_open/logs/1",
                      params={"full_content": "true"})
    assert "weekend" in str(log) and "cycle skipped" in str(log)
    assert _incidents(clock_stack, run_id) == []


def test_an_open_instant_trades_in_live_mode(clock_stack: AirflowStack) -> None:
    api = clock_stack.api
    run_id = api.trigger("auto_trader", conf={**LIVE, "market_clock_at": OPEN_THURSDAY})
    run = api.wait_for_run("auto_trader", run_id, timeout=300)
    states = _states(clock_stack, "auto_trader", run_id)
    assert run["state"] == "success", states
    print(f"open cycle: queued -> end {_seconds(run):.1f}s")
    assert states["trading.market_open"] == "success"
    assert {k: v for k, v in states.items() if k.startswith("trading.trade")} == {
        "trading.trade[0]": "success"}, "both tickers trade in one batch"
    assert _incidents(clock_stack, run_id) == []


def test_a_slow_cycle_raises_exactly_one_critical_incident(clock_stack: AirflowStack) -> None:
    api = clock_stack.api
    run_id = api.trigger("market_clock_slow", conf={**LIVE, "market_clock_at": OPEN_THURSDAY, "sleep": 25})
    key = sla_dedup_key("market_clock_slow", "market_clock_slow_cycle", run_id)
    wait_for(lambda: _outbox(clock_stack).find("sla_miss", key), 240, "the slow cycle's SLA miss")
    run = api.wait_for_run("market_clock_slow", run_id, timeout=300)
    assert _states(clock_stack, "market_clock_slow", run_id)["trading.market_open"] == "success"
    assert run["state"] == "success"
    incidents = _incidents(clock_stack, run_id)
    assert [i for i in incidents if i["kind"] == "sla_miss"] == [
        {"kind": "sla_miss", "severity": "critical", "dag_id": "market_clock_slow", "sla": "market_clock_slow_cycle"}]
    assert {i["kind"] for i in incidents} <= {"sla_miss", "sla_recovered"}  # the recovery follows the late success
