"""Early warning under the real scheduler: a run slowed on purpose is warned before its deadline, then misses,
on one thread (one dedup key at PagerDuty and Slack), with a diagnosis that names the slowed task.

``sla_slowed`` (tests/integration/dags/sla_scenarios.py): prepare -> crunch -> publish, 30 s budget from being
queued, 12 s warning margin. A healthy run gives the history; the next one sleeps 36 s in ``crunch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from alerts.incident import Incident
from tests.integration.sla_support import SlaEnv, dedup
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2700)]  # see tests/wait_budget.py
DAG_ID = "sla_slowed"
SLOW_SECONDS = 36


@dataclass
class Thread:
    """The slowed run and everything stored for its dedup key."""

    run_id: str
    key: str
    warning: Incident
    miss: Incident
    recovered: Incident
    warning_row: dict[str, Any]


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def thread(sla_env: SlaEnv) -> Thread:
    """A healthy run, then a slowed one; wait until its recovery reached both stand-ins."""
    api = sla_env.stack.api
    healthy = api.trigger(DAG_ID)
    assert api.wait_for_run(DAG_ID, healthy, timeout=180)["state"] == "success"
    assert sla_env.outbox.find("sla_warning", dedup(DAG_ID, healthy)) is None
    run_id = api.trigger(DAG_ID, conf={"sleep": SLOW_SECONDS})
    key = dedup(DAG_ID, run_id)
    assert api.wait_for_run(DAG_ID, run_id, timeout=300)["state"] == "success"
    wait_for(lambda: sla_env.pd_events(key, "resolve") and sla_env.slack_messages(key, "sla_recovered"), 120,
             "the resolve of the slowed run")
    rows = {kind: sla_env.outbox.find(kind, key) for kind in ("sla_warning", "sla_miss", "sla_recovered")}
    missing = [kind for kind, row in rows.items() if row is None]
    assert not missing, f"not stored for {key}: {missing}"
    warning_row = rows["sla_warning"]
    assert warning_row is not None
    parsed = {kind: Incident.from_json(row["payload"]) for kind, row in rows.items() if row is not None}
    return Thread(run_id, key, parsed["sla_warning"], parsed["sla_miss"], parsed["sla_recovered"], warning_row)


def test_the_warning_comes_before_the_deadline_and_the_miss_after_it(thread: Thread) -> None:
    deadline = _dt(thread.miss.details["deadline"])
    assert thread.warning.details["deadline"] == thread.miss.details["deadline"]
    lead = (deadline - thread.warning.created_at).total_seconds()
    print(f"\nearly warning fired {lead:.1f} s before the deadline (margin 12 s, budget 30 s)")
    assert lead > 0 and thread.warning.created_at < thread.miss.created_at
    assert _dt(thread.warning.details["projected_finish"]) > deadline - timedelta(seconds=12)
    assert thread.miss.details["warned_seconds_before_deadline"] == pytest.approx(lead, abs=0.1)
    assert thread.warning_row["resolved_at"] is not None  # superseded by the miss, not cleared


def test_both_name_the_slowed_task_and_how_much_longer_it_took(thread: Thread) -> None:
    for incident in (thread.warning, thread.miss):
        text = incident.details["diagnosis"]
        assert text.startswith("Task crunch on the critical path has been running "), text
        assert "longer than usual" in text and "Critical path: prepare -> crunch -> publish." in text
        assert incident.details["diagnosis_facts"]["slowest_task"]["task_id"] == "crunch"
        assert incident.details["diagnosis_facts"]["history_runs"] >= 1


def test_pagerduty_sees_one_alert_and_slack_one_thread(thread: Thread, sla_env: SlaEnv) -> None:
    triggers = sla_env.pd_events(thread.key, "trigger")
    assert [t["payload"]["severity"] for t in triggers] == ["warning", "critical"]  # one alert, escalated
    assert triggers[0]["payload"]["summary"].startswith("[EARLY WARNING] SLA sla_slowed_sla at risk")
    assert triggers[1]["payload"]["custom_details"]["diagnosis"] == thread.miss.details["diagnosis"]
    assert len(sla_env.pd_events(thread.key, "resolve")) == 1
    messages = sla_env.slack_messages(thread.key)
    kinds = [((m.get("metadata") or {}).get("event_payload") or {}).get("kind") for m in messages]
    assert kinds == ["sla_warning", "sla_miss", "sla_recovered"]
    first, miss, recovered = messages
    assert first["thread_ts"] is None and miss["thread_ts"] == recovered["thread_ts"] == first["ts"]
    assert "*Why*" in str(miss["blocks"])


def test_the_sla_view_shows_the_diagnosis_and_the_warning(thread: Thread, sla_env: SlaEnv) -> None:
    token = sla_env.stack.api.token()
    (miss,) = [m for m in sla_env.ui_get("/api/misses", token, dag_id=DAG_ID).json()["misses"]
               if m["run_id"] == thread.run_id]
    assert miss["diagnosis"] == thread.miss.details["diagnosis"]
    assert miss["warned_seconds_before_deadline"] == thread.miss.details["warned_seconds_before_deadline"]
    page = sla_env.ui_get("/ui", token, dag_id=DAG_ID).text
    assert "Task crunch on the critical path" in page and "early warning" in page
