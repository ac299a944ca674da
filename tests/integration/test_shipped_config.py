"""The shipped configuration under the session stack: SLA deadlines, Variables over ``CRON_*``, streak resolution.

* The Deadline Alerts the stack built from the shipped ``config/slas.yml`` for the project's DAGs expire under
  the real scheduler + triggerer and become incidents in the outbox, one SLA per reference kind. No waiting
  for hours: a ``time_of_day`` run is created for a past schedule slot, and the creation clock of ``queued``
  and ``average_runtime`` runs is pinned (``tests/integration/shipped_support.py``) so that their deadline,
  computed by Airflow from the shipped interval, has just passed.
* ``portfolio.*`` Variables win over a conflicting ``CRON_*`` environment of the scheduler in a real task, and
  the environment wins once the Variable is empty.
* A failure streak of the error monitor that paged PagerDuty is resolved there (and at Slack) when it ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from alerts.incident import sla_dedup_key
from alerts.sla_config import SlaSpec, load_sla_config
from foundation.config_loader import load_config
from foundation.paths import REPO_ROOT
from listeners.config import ObservabilityConfig
from orchestration.config import OrchestrationConfig
from orchestration.tasks import TRADING_HALT_VARIABLE
from portfolio.calendar import trading_day
from tests.integration.listener_support import set_env_and_restart
from tests.integration.sla_support import SlaEnv
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2100)]  # see tests/wait_budget.py
KINDS = ("time_of_day", "queued", "average_runtime")
HISTORY_SECONDS = 120  # duration of each successful run an average_runtime deadline averages over
PAST = timedelta(seconds=30)  # how far in the past the pinned deadlines lie


def _config_dir(sla_env: SlaEnv) -> Path:
    return Path(sla_env.stack.env["PMX_CONFIG_DIR"])


@dataclass
class Miss:
    """One SLA of the shipped file, the run made to miss it and what Airflow computed for it."""

    spec: SlaSpec
    run_id: str
    expected_deadline: datetime
    deadlines: dict[str, str]


def _free_slot(sla_env: SlaEnv, dag_id: str, cron: str, tz: str, before: datetime) -> datetime:
    """The latest schedule slot before ``before`` that has no run yet (an unpause may have made one)."""
    taken = {datetime.fromisoformat(r["logical_date"].replace("Z", "+00:00"))
             for r in sla_env.stack.api.dag_runs(dag_id) if r.get("logical_date")}
    slots = croniter(cron, before.astimezone(ZoneInfo(tz)))
    while True:
        slot = slots.get_prev(datetime).astimezone(UTC)
        if slot not in taken:
            return slot


def _create_runs(sla_env: SlaEnv, requests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    cmd = [sys.executable, "-m", "tests.integration.shipped_support", json.dumps(requests)]
    proc = subprocess.run(cmd, env=sla_env.stack.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {r["run_id"]: r for r in out}


def _plan(sla_env: SlaEnv, now: datetime) -> tuple[list[dict[str, Any]], list[Miss]]:
    """The runs to create: per reference kind the first shipped SLA of that kind (plus history runs)."""
    config_dir = _config_dir(sla_env)
    slas = load_sla_config(config_dir)
    orch = load_config(OrchestrationConfig, "orchestration", config_dir=config_dir)
    stamp = int(now.timestamp())
    requests: list[dict[str, Any]] = []
    misses: list[Miss] = []
    for kind in KINDS:
        spec = next(s for s in slas.slas if s.reference == kind)
        run_id = f"scheduled__shipped_{spec.name}_{stamp}"
        cron = orch.dags[spec.dag_id].schedule
        # three days back and never a slot that has a run already (the catch-up run of an earlier unpause)
        slot = _free_slot(sla_env, spec.dag_id, cron, orch.timezone, now - timedelta(days=3) - spec.budget)
        if kind == "time_of_day":
            pinned, expected = None, slot + spec.budget  # the scheduled run of a past slot: already late
        elif kind == "queued":
            pinned = now - spec.budget - PAST
            expected = pinned + spec.budget
        else:
            for i in range(spec.max_runs):  # the last max_runs successful runs, each HISTORY_SECONDS long
                start = now - timedelta(days=1) + timedelta(minutes=10 * i)
                # Airflow averages the runs with the newest logical dates: the history's are after every real
                # slot (e.g. the weekly refresh's catch-up run of this Monday's slot), so only they count
                logical = now + timedelta(minutes=1 + i)
                requests.append({"dag_id": spec.dag_id, "run_id": f"shipped_history_{i}_{stamp}",
                                 "logical_date": logical.isoformat(), "state": "success",
                                 "start_date": start.isoformat(),
                                 "end_date": (start + timedelta(seconds=HISTORY_SECONDS)).isoformat(),
                                 "keep_deadlines": False})
            pinned = now - spec.budget - timedelta(seconds=HISTORY_SECONDS) - PAST
            expected = pinned + timedelta(seconds=HISTORY_SECONDS) + spec.budget
        requests.append({"dag_id": spec.dag_id, "run_id": run_id, "logical_date": slot.isoformat(),
                         "pinned_now": pinned.isoformat() if pinned else None, "state": "queued"})
        misses.append(Miss(spec, run_id, expected, {}))
    return requests, misses


@pytest.fixture(scope="module")
def shipped_misses(sla_env: SlaEnv) -> dict[str, tuple[Miss, dict[str, Any]]]:
    """Runs of the real DAGs that miss a shipped SLA of each kind; the incidents the triggerer recorded."""
    api = sla_env.stack.api
    now = datetime.now(UTC)
    requests, misses = _plan(sla_env, now)
    dag_ids = sorted({m.spec.dag_id for m in misses})
    api.wait_for_dags(dag_ids)
    for dag_id in dag_ids:
        api.set_paused(dag_id, True)  # the runs stay queued: the deadline is what is under test, not the tasks
    try:
        created = _create_runs(sla_env, requests)
        for miss in misses:
            miss.deadlines = created[miss.run_id]["deadlines"]
        deadline = time.monotonic() + 240  # the three misses are pending at once
        found = {}
        for miss in misses:
            key = sla_dedup_key(miss.spec.dag_id, miss.spec.name, miss.run_id)
            found[miss.spec.reference] = (miss, wait_for(  # wait-budget: 0
                lambda key=key: sla_env.outbox.find("sla_miss", key), max(1.0, deadline - time.monotonic()),
                f"the shipped SLA {miss.spec.name} missed by {miss.run_id}"))
        return found
    finally:
        for request in requests:
            api.request("DELETE", f"/dags/{request['dag_id']}/dagRuns/{request['run_id']}", ok=(200, 204, 404))


def test_the_stack_runs_the_shipped_sla_file(sla_env: SlaEnv) -> None:
    assert (_config_dir(sla_env) / "slas.yml").read_text() == (REPO_ROOT / "config" / "slas.yml").read_text()


@pytest.mark.parametrize("kind", KINDS)
def test_airflow_computes_the_shipped_deadline(shipped_misses: dict[str, Any], kind: str) -> None:
    miss, _ = shipped_misses[kind]
    own = [v for name, v in miss.deadlines.items() if name.startswith(f"{miss.spec.name} (")
           and "manual runs" not in name]
    (deadline,) = own
    got = datetime.fromisoformat(deadline)
    assert abs((got - miss.expected_deadline).total_seconds()) < 1.0, (deadline, miss.expected_deadline)


@pytest.mark.parametrize("kind", KINDS)
def test_the_shipped_deadline_expires_into_an_incident(shipped_misses: dict[str, Any], kind: str) -> None:
    miss, row = shipped_misses[kind]
    incident = json.loads(row["payload"])
    details = incident["details"]
    assert (row["dag_id"], row["run_id"], row["severity"]) == (miss.spec.dag_id, miss.run_id, miss.spec.severity)
    assert details["reference"] == kind and details["sla"] == miss.spec.name
    assert details["run_type"] == "scheduled"
    assert details["budget_seconds"] == miss.spec.budget.total_seconds()
    got = datetime.fromisoformat(details["deadline"].replace("Z", "+00:00"))
    assert abs((got - miss.expected_deadline).total_seconds()) < 1.0
    if kind == "time_of_day":  # the wall-clock time of the shipped `at`, in the schedule's timezone
        assert got.astimezone(ZoneInfo(miss.spec.timezone or "UTC")).strftime("%H:%M") == miss.spec.at


def test_the_shipped_misses_reach_their_channels(shipped_misses: dict[str, Any], sla_env: SlaEnv) -> None:
    from alerts.alerting_config import load_alerting
    from alerts.incident import Incident
    from alerts.router import route

    alerting = load_alerting(_config_dir(sla_env))
    for miss, row in shipped_misses.values():
        wanted = {c for c, _ in route(Incident.from_json(row["payload"]), alerting)}
        wait_for(lambda row=row, wanted=wanted: {d["channel"] for d in sla_env.outbox.deliveries(row["id"])
                                                 if d["status"] == "delivered"} == wanted,
                 60, f"the deliveries of {miss.spec.name}")


# -- Variables over CRON_* -----------------------------------------------------------------------------------
TRADER = "auto_trader"
TICKERS_VARIABLE = "portfolio.default_tickers"


CLOSED_SATURDAY = "2026-12-05T15:00:00+00:00"  # Saturday 10:00 New York: the cycle skips its trades at once


def _discard(sla_env: SlaEnv, run_id: str) -> None:
    """Delete a run that served its purpose: ended, or queued and never started (409: it started meanwhile; the
    paused DAG leaves it where it is)."""
    sla_env.stack.api.request("DELETE", f"/dags/{TRADER}/dagRuns/{run_id}", ok=(200, 204, 404, 409))


def _resolved_tickers(sla_env: SlaEnv) -> list[str]:
    """Trigger the real auto_trader at a closed market instant, wait for its ``trading_allowed`` task, return the
    tickers of its batches (the XCom).

    Closed, the market sensor skips the trades at once and the run ends by itself: a run stopped while a trade
    runs has its task killed, and deleting it then can wait on the metadata database for longer than a request
    may take.
    """
    api = sla_env.stack.api
    run_id = api.trigger(TRADER, conf={"execution_mode": "live", "market_clock_at": CLOSED_SATURDAY})

    def resolved() -> list[str] | None:
        tis = {t["task_id"]: t for t in api.task_instances(TRADER, run_id)}
        ti = tis.get("trading.trading_allowed") or {}
        if ti.get("state") in ("failed", "upstream_failed", "skipped"):
            raise AssertionError(f"trading_allowed ended {ti['state']}: {tis}")
        if ti.get("state") != "success":
            return None
        entry = api.request("GET", f"/dags/{TRADER}/dagRuns/{run_id}/taskInstances/trading.trading_allowed"
                                   "/xcomEntries/return_value")
        value = entry["value"]
        batches = json.loads(value) if isinstance(value, str) else value
        return [ticker for batch in batches for ticker in batch]

    tickers = wait_for(resolved, 150, "auto_trader's trading_allowed", poll=1)
    run = api.wait_for_run(TRADER, run_id, timeout=120)
    assert run["state"] == "success", run
    _discard(sla_env, run_id)
    return tickers


def _halt_today(sla_env: SlaEnv) -> None:
    """Halt today's trading (the product's own halt): the catch-up run the unpause starts skips its trades and
    ends in seconds, while the runs pinned to a closed Saturday still resolve their tickers."""
    orch = load_config(OrchestrationConfig, "orchestration", config_dir=_config_dir(sla_env))
    today = trading_day(datetime.now(UTC), orch.market_hours.calendar).isoformat()
    halt = {"key": TRADING_HALT_VARIABLE, "value": json.dumps({"date": today, "reason": "test: no catch-up trades"})}
    api = sla_env.stack.api
    api.request("GET", f"/variables/{TRADING_HALT_VARIABLE}", ok=(404,))  # none set: the cleanup deletes it
    api.request("POST", "/variables", json=halt)


def _new_runs(sla_env: SlaEnv, before: set[str]) -> list[dict[str, Any]]:
    return [r for r in sla_env.stack.api.dag_runs(TRADER) if r["dag_run_id"] not in before]


def _settle(sla_env: SlaEnv, before: set[str]) -> None:
    """Let the running runs the unpause started (those not in ``before``) end by themselves: stopping one mid-trade
    kills its task. A queued run has started nothing; it is removed once the DAG is paused (the next slot's run
    can sit queued until its time, half an hour away)."""
    wait_for(lambda: not any(r["state"] == "running" for r in _new_runs(sla_env, before)), 180,
             "the running auto_trader runs to end", poll=2)


@pytest.fixture(scope="module")
def precedence(sla_env: SlaEnv) -> dict[str, list[str]]:
    """What a real task resolves with a Variable and a conflicting ``CRON_TICKERS``, then with the Variable empty."""
    api = sla_env.stack.api
    original = api.request("GET", f"/variables/{TICKERS_VARIABLE}")
    api.wait_for_dags([TRADER])
    set_env_and_restart(sla_env.stack, {"CRON_TICKERS": "NVDA"})
    before = {r["dag_run_id"] for r in api.dag_runs(TRADER)}
    _halt_today(sla_env)
    api.set_paused(TRADER, False)
    try:
        api.request("PATCH", f"/variables/{TICKERS_VARIABLE}", json={"key": TICKERS_VARIABLE, "value": "MSFT"})
        with_variable = _resolved_tickers(sla_env)
        api.request("PATCH", f"/variables/{TICKERS_VARIABLE}", json={"key": TICKERS_VARIABLE, "value": ""})
        without_variable = _resolved_tickers(sla_env)
    finally:  # every step runs, whatever the one before did: later tests need the stack as it was
        try:
            _settle(sla_env, before)
        finally:
            try:
                api.set_paused(TRADER, True)
                for run in _new_runs(sla_env, before):  # later tests need a quiet auto_trader
                    _discard(sla_env, run["dag_run_id"])
                api.request("DELETE", f"/variables/{TRADING_HALT_VARIABLE}", ok=(200, 204, 404))
                api.request("PATCH", f"/variables/{TICKERS_VARIABLE}",
                            json={"key": TICKERS_VARIABLE, "value": original["value"]})
            finally:
                set_env_and_restart(sla_env.stack, {"CRON_TICKERS": None})
    return {"variable": with_variable, "environment": without_variable}


def test_a_portfolio_variable_wins_over_the_cron_environment(precedence: dict[str, list[str]]) -> None:
    assert precedence["variable"] == ["MSFT"]


def test_the_cron_environment_applies_when_the_variable_is_empty(precedence: dict[str, list[str]]) -> None:
    assert precedence["environment"] == ["NVDA"]  # the conflicting environment was really in the task


# -- the error monitor's streak alert resolves the page it raised ---------------------------------------------
STREAK_DAG = "shipped_streak"


@pytest.fixture(scope="module")
def streak(sla_env: SlaEnv) -> str:
    """``threshold`` failed runs of a DAG then a successful one; the dedup key of the streak alert."""
    api = sla_env.stack.api
    obs = load_config(ObservabilityConfig, "observability", config_dir=_config_dir(sla_env))
    threshold = obs.error_monitor.rules.consecutive_failed_runs.threshold
    api.wait_for_dags([STREAK_DAG])
    api.set_paused(STREAK_DAG, False)
    deadline = time.monotonic() + 300  # every run of the streak shares one budget
    try:
        for fail in [True] * threshold + [False]:
            run_id = api.trigger(STREAK_DAG, conf={"fail": fail})
            left = max(1.0, deadline - time.monotonic())
            state = api.wait_for_run(STREAK_DAG, run_id, timeout=left, poll=1)["state"]  # wait-budget: 0
            assert state == ("failed" if fail else "success")
    finally:
        api.set_paused(STREAK_DAG, True)
    return wait_for(lambda: _streak_key(sla_env), 60, "the streak alert in the outbox")


def _streak_key(sla_env: SlaEnv) -> str | None:
    with sla_env.outbox.connect() as conn:
        row = conn.execute("SELECT dedup_key FROM incidents WHERE kind = 'error_threshold' AND dedup_key LIKE ? "
                           "ORDER BY id DESC", (f"pmx-errmon/consecutive_failed_runs/{STREAK_DAG}/%",)).fetchone()
    return row["dedup_key"] if row else None


def test_the_streak_page_is_resolved_at_pagerduty_and_slack(streak: str, sla_env: SlaEnv) -> None:
    wait_for(lambda: sla_env.pd.alerts.get(streak) == "resolved", 120, "the resolve of the streak page")
    assert [e["event_action"] for e in sla_env.pd_events(streak)] == ["trigger", "resolve"]
    wait_for(lambda: sla_env.slack_messages(streak, "error_threshold_resolved"), 60, "the resolved Slack message")
    (page,) = sla_env.slack_messages(streak, "error_threshold")
    (end,) = sla_env.slack_messages(streak, "error_threshold_resolved")
    severity = load_config(ObservabilityConfig, "observability", config_dir=_config_dir(sla_env)).error_monitor.rules
    assert f"[{severity.consecutive_failed_runs.severity.upper()}]" in page["text"]
    assert "[RESOLVED]" in end["text"] and STREAK_DAG in end["text"]
    assert page["received_at"] < end["received_at"]
