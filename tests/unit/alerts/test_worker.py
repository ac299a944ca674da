"""The outbox worker in-process: stand-ins, recovery of late runs, task budgets, gauges, standby."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts import alerting_config
from alerts.incident import Incident
from alerts.outbox import Outbox
from alerts.outbox_worker import OutboxWorker
from alerts.recovery import check_recoveries, check_task_budgets, lateness_of_open_misses
from alerts.router import submit
from alerts.sla_config import TaskBudget
from tests.unit.alerts.conftest import StandIns
from tests.unit.alerts.fake_facts import FakeFacts
from tests.unit.alerts.worker_support import run_until

DEADLINE = datetime(2026, 3, 2, 10, 5, tzinfo=UTC)


class FakeRuns:
    """Run and task state as the tests set it."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], tuple[str | None, datetime | None]] = {}
        self.tasks: list[dict[str, Any]] = []

    def run_states(
        self, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str | None, datetime | None]]:
        return {k: self.states[k] for k in keys if k in self.states}

    def running_tasks(self, dag_ids: Any, started_before: datetime) -> list[dict[str, Any]]:
        return [t for t in self.tasks if t["dag_id"] in set(dag_ids) and t["start_date"] < started_before]


def miss(run_id: str = "r1", severity: str = "critical", deadline: datetime = DEADLINE) -> Incident:
    return Incident(
        kind="sla_miss",
        dedup_key=f"pmx-sla/d/s/{run_id}",
        severity=severity,
        summary="SLA s missed",
        dag_id="d",
        run_id=run_id,
        links={"run": "http://ui/run"},
        details={"sla": "s", "deadline": deadline.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
    )


@pytest.fixture
def worker(receivers: StandIns, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PMX_STATSD_ENABLED", "false")
    alerting_config.clear_cache()
    runs = FakeRuns()
    w = OutboxWorker(runs=runs, facts=FakeFacts())
    w.config = w.config.model_copy(
        update={"worker": w.config.worker.model_copy(update={"run_check_interval_seconds": 0.05})}
    )
    w.deliverer.config = w.config
    yield w, runs
    w.pool.shutdown(wait=True)


def test_a_miss_is_delivered_and_resolved_when_the_run_succeeds(worker: Any, receivers: StandIns) -> None:
    w, runs = worker
    submit(miss())
    run_until(w, lambda: receivers.pd.events("trigger") and receivers.slack.messages())
    runs.states[("d", "r1")] = ("success", DEADLINE + timedelta(minutes=12, seconds=30))
    run_until(w, lambda: receivers.pd.events("resolve") and len(receivers.slack.messages()) == 2)
    ok = receivers.slack.messages()[1]
    assert "[RECOVERED] SLA s recovered: d run r1 finished 12m 30s late" in ok["text"]
    assert receivers.pd.alerts == {"pmx-sla/d/s/r1": "resolved"}
    row = Outbox().find("sla_miss", "pmx-sla/d/s/r1")
    assert row is not None and row["late_seconds"] == 750.0 and row["resolved_at"]


def test_a_failed_run_keeps_its_miss_open(pmx_home: Path) -> None:
    runs = FakeRuns()
    submit(miss())
    runs.states[("d", "r1")] = ("failed", DEADLINE + timedelta(minutes=3))
    assert check_recoveries(Outbox(), runs) == 0
    row = Outbox().find("sla_miss", "pmx-sla/d/s/r1")
    assert row is not None and row["run_state"] == "failed" and row["resolved_at"] is None
    runs.states[("d", "r1")] = ("success", DEADLINE + timedelta(minutes=30))  # cleared and re-run
    assert check_recoveries(Outbox(), runs) == 1
    assert check_recoveries(Outbox(), runs) == 0  # resolved once


def test_open_misses_report_their_live_lateness(pmx_home: Path) -> None:
    submit(miss())
    ((dag_id, sla, seconds),) = lateness_of_open_misses(Outbox(), now=DEADLINE.timestamp() + 90)
    assert (dag_id, sla, seconds) == ("d", "s", 90.0)
    assert (
        lateness_of_open_misses(Outbox(), now=DEADLINE.timestamp() + 8 * 86400) == []
    )  # past the watch horizon


def test_task_budgets_raise_one_incident_per_task_try(pmx_home: Path) -> None:
    runs = FakeRuns()
    now = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    runs.tasks = [
        {
            "dag_id": "daily_etl",
            "task_id": "etl.forecast",
            "run_id": "r",
            "map_index": 2,
            "try_number": 1,
            "start_date": now - timedelta(minutes=20),
        },
        {
            "dag_id": "daily_etl",
            "task_id": "etl.extract",
            "run_id": "r",
            "map_index": 0,
            "try_number": 1,
            "start_date": now - timedelta(minutes=20),
        },
        {
            "dag_id": "daily_etl",
            "task_id": "etl.forecast",
            "run_id": "r",
            "map_index": 3,
            "try_number": 1,
            "start_date": now - timedelta(minutes=5),
        },
    ]
    budgets = [TaskBudget(dag_id="daily_etl", task_id="etl.forecast", budget="15m", severity="warning")]
    assert check_task_budgets(budgets, runs, "http://ui", "http://ui/pmx-sla/runbook", now) == 1
    check_task_budgets(budgets, runs, "http://ui", "http://ui/pmx-sla/runbook", now)
    with Outbox().connect() as conn:
        rows = conn.execute("SELECT kind, dedup_key, severity, summary FROM incidents").fetchall()
    assert [tuple(r) for r in rows] == [
        (
            "task_budget",
            "pmx-task-budget/daily_etl/etl.forecast/r/2/1",
            "warning",
            "Task daily_etl.etl.forecast (map 2) running for 20m, over its 15m budget",
        )
    ]


def test_gauges_report_depth_oldest_age_and_lateness(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from foundation import metrics

    w, _ = worker
    sent: list[tuple[str, float, Any]] = []
    beats: list[str] = []
    monkeypatch.setattr(
        metrics.StatsdClient, "gauge", lambda self, name, value, tags=None: sent.append((name, value, tags))
    )
    submit(miss(deadline=datetime.now(UTC) - timedelta(seconds=60)))
    monkeypatch.setattr(metrics.StatsdClient, "incr", lambda self, name, value=1, tags=None: beats.append(name))
    stats = w.publish_gauges()
    names = [s[0] for s in sent]
    assert names == ["alerts.outbox_depth", "alerts.outbox_oldest_age", "sla.lateness"]
    assert sent[0][1] == stats["depth"] == 1.0 and sent[2][2] == {"dag_id": "d", "sla": "s"}
    assert 60 <= sent[2][1] < 600
    assert beats == ["alerts.worker_heartbeat"]


def test_a_second_worker_waits_as_a_standby(worker: Any) -> None:
    w, _ = worker
    assert w.acquire(wait=False) is True
    other = OutboxWorker(runs=FakeRuns(), facts=FakeFacts())
    try:
        assert other.acquire(wait=False) is False
    finally:
        other.pool.shutdown()
