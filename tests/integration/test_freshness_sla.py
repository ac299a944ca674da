"""Freshness SLAs under the real stack: a holiday raises no freshness miss, the next trading day does.

The ``portfolio_ohlcv`` events are recorded at pinned instants through Airflow's own asset manager
(``tests/integration/freshness_support.py``) in the stack's metadata database, and the shipped ``ohlcv_daily`` SLA
(26 trading-day hours, XNYS) is checked at pinned instants with ``python -m alerts.freshness_check --at`` in the
stack's environment: the same reader (``AirflowAssets``), judge and outbox as the alerts worker's periodic check.
The worker is stopped while the pinned checks run (its own check runs on the wall clock, where the pinned data of
November is long stale) and started again to deliver what they submitted and to publish its age gauge.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

import pytest
import requests

from alerts.outbox import Outbox
from local_stack.stack import AirflowStack
from tests.integration.conftest import StatsdSink
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]  # see tests/wait_budget.py
WEDNESDAY_LOAD = "2026-11-25T10:15:00+00:00"   # Wednesday 05:15 New York, the day before Thanksgiving
THANKSGIVING = "2026-11-26T17:00:00+00:00"     # Thursday 12:00 New York: 30h 45m of plain age, 18h 45m of trading
FRIDAY_EARLY = "2026-11-27T11:30:00+00:00"     # Friday 06:30 New York: 25h 15m of trading-day age
FRIDAY_LATE = "2026-11-27T13:00:00+00:00"      # Friday 08:00 New York: 26h 45m, due since 07:15
MONDAY_LOAD = "2026-11-30T10:15:00+00:00"      # Monday 05:15 New York: the next load
MONDAY_CHECK = "2026-11-30T11:00:00+00:00"
KEY = "pmx-freshness/ohlcv_daily/2026-11-27T12:15:00.000000Z"


def _outbox(stack: AirflowStack) -> Outbox:
    return Outbox(stack.layout.pmx_home / "data" / "alerts" / "outbox.sqlite")


def _incidents(stack: AirflowStack, kind: str) -> list[dict[str, Any]]:
    with _outbox(stack).connect() as conn:
        rows = conn.execute("SELECT * FROM incidents WHERE kind = ? AND sla = 'ohlcv_daily' AND dedup_key LIKE "
                            "'pmx-freshness/ohlcv_daily/2026-11-%' ORDER BY id", (kind,)).fetchall()
    return [dict(r) for r in rows]


def _record(stack: AirflowStack, asset: str, at: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "tests.integration.freshness_support",
                           json.dumps([{"asset": asset, "at": at}])], env=stack.env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def _check(stack: AirflowStack, *instants: str) -> list[dict[str, dict[str, Any]]]:
    """Pinned checks at ``instants``, in order, in one process (no StatsD from it: every age gauge the sink sees is
    the worker's); per check, the verdict of each freshness SLA."""
    cmd = [sys.executable, "-m", "alerts.freshness_check", *(arg for at in instants for arg in ("--at", at))]
    proc = subprocess.run(cmd, env={**stack.env, "PMX_STATSD_ENABLED": "false"}, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    checks: dict[str, dict[str, dict[str, Any]]] = {}
    for line in proc.stdout.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and "sla" in item and "state" in item:
            checks.setdefault(item["now"], {})[item["sla"]] = item
    out = list(checks.values())  # one per distinct instant, in order
    assert len(out) == len(set(instants)), proc.stdout[-2000:]
    return out


def _delivered(stack: AirflowStack, incident_id: int) -> list[tuple[str, str, str]]:
    done = [(d["channel"], d["action"], d["status"]) for d in _outbox(stack).deliveries(incident_id)]
    return done if done and all(status != "pending" and status != "sending" for _, _, status in done) else []


def test_a_holiday_raises_no_freshness_miss_and_the_next_trading_day_does(airflow_stack: AirflowStack,
                                                                          statsd_sink: StatsdSink) -> None:
    stack = airflow_stack
    stack.api.wait_for_dags(["daily_etl", "auto_trader"])
    stack.api.set_paused("auto_trader", True)  # the asset's consumer: no run is queued by the pinned events
    wait_for(lambda: stack.api.request("GET", "/assets", params={"name_pattern": "portfolio_ohlcv"})["assets"],
             90, "the portfolio_ohlcv asset declared by the dag-processor")
    stack.stop_component("alerts-worker", signal.SIGTERM)
    try:
        _record(stack, "portfolio_ohlcv", WEDNESDAY_LOAD)
        thanksgiving, friday_early, late = (c["ohlcv_daily"] for c in _check(stack, THANKSGIVING, FRIDAY_EARLY,
                                                                              FRIDAY_LATE))
        for verdict in (thanksgiving, friday_early):
            assert (verdict["state"], verdict["last_event"]) == ("fresh", "2026-11-25T10:15:00.000000Z"), verdict
        assert thanksgiving["age_seconds"] == 18.75 * 3600  # the holiday does not age the data
        assert (late["state"], late["due_at"], late["dedup_key"]) == ("stale", "2026-11-27T12:15:00.000000Z", KEY)
        _check(stack, FRIDAY_LATE)  # the next check, in another process, finds the open miss: no second incident
        misses = _incidents(stack, "freshness_miss")
        assert [(m["dedup_key"], m["severity"]) for m in misses] == [(KEY, "error")]
        assert "due since 2026-11-27 07:15 EST (12:15 UTC)" in misses[0]["summary"]
    finally:
        stack.start_component("alerts-worker")

    miss_id = misses[0]["id"]
    sent = wait_for(lambda: _delivered(stack, miss_id), 90, "the worker delivering the freshness miss")
    assert ("local", "notify", "delivered") in sent, sent
    wait_for(lambda: [x for x in statsd_sink.lines()
                      if x.startswith("pmx.freshness.age_seconds") and "sla=ohlcv_daily" in x], 60,
             "the worker's freshness age gauge")

    _record(stack, "portfolio_ohlcv", MONDAY_LOAD)
    (monday,) = (c["ohlcv_daily"] for c in _check(stack, MONDAY_CHECK))
    assert monday["state"] == "fresh" and monday["last_event"] == "2026-11-30T10:15:00.000000Z"
    recovered = wait_for(lambda: _incidents(stack, "freshness_recovered"), 60, "the freshness recovery")
    assert [r["dedup_key"] for r in recovered] == [KEY]  # resolved once (by the pinned check or the worker)
    assert _incidents(stack, "freshness_miss")[0]["resolved_at"] is not None
    closing = wait_for(lambda: _delivered(stack, recovered[0]["id"]), 90, "the worker delivering the recovery")
    assert {c for c, _, _ in closing} == {c for c, _, _ in sent}  # where the miss went, the recovery goes

    # the SLA-misses view of the api-server lists the data miss, resolved, beside the run misses
    listed = requests.get(f"{stack.layout.api_url}/pmx-sla/api/misses", timeout=30,
                          headers={"Authorization": f"Bearer {stack.api.token()}"}).json()["misses"]
    (shown,) = [m for m in listed if m["id"] == miss_id]
    assert (shown["kind"], shown["asset"], shown["sla"], shown["still_late"]) == (
        "freshness_miss", "portfolio_ohlcv", "ohlcv_daily", False)
    assert shown["resolved_at"] and ("local", "notify", "delivered") in {
        (d["channel"], d["action"], d["status"]) for d in shown["recovery_deliveries"]}
