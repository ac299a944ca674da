"""Projection, diagnosis and the early-warning thread (warning -> cleared, or warning -> miss) on a real outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts import alerting_config
from alerts.deadlines import build_miss_incident, deadline_alerts
from alerts.delivery import Deliverer
from alerts.diagnosis import diagnose
from alerts.early_warning import EarlyWarning
from alerts.incident import Incident, sla_dedup_key
from alerts.messages import headline, pagerduty_event, slack_message
from alerts.outbox import Outbox
from alerts.projection import project, typical_tasks
from alerts.run_facts import PendingDeadline, PoolUse, RunFact, TaskFact
from alerts.sla_config import load_sla_config
from foundation.pipeline_logger import read_events
from tests.unit.alerts.fake_facts import FakeFacts

T0 = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
CHAIN = {"a": [], "b": ["a"], "c": ["b"]}
USUAL = {"a": 2.0, "b": 3.0, "c": 1.0}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ti(task_id: str, start: float | None, end: float | None, state: str | None = None, **kw: object) -> TaskFact:
    done = "success" if end is not None else ("running" if start is not None else None)
    return TaskFact(task_id, state or done, start=None if start is None else at(start),
                    end=None if end is None else at(end), queued_at=None if start is None else at(start - 0.5),
                    **kw)  # type: ignore[arg-type]


def past_run(n: int) -> RunFact:
    """A successful run n hours ago: a, b, c one after the other with 1 s between, USUAL durations."""
    base = -3600.0 * n
    tasks, t = [], base + 1
    for task_id in "abc":
        tasks.append(ti(task_id, t, t + USUAL[task_id]))
        t += USUAL[task_id] + 1
    return RunFact("d", f"past{n}", "manual", "success", queued_at=at(base), start=at(base), end=at(t),
                   tasks=tuple(tasks))


def current(*tasks: TaskFact, state: str = "running", end: float | None = None, **kw: object) -> RunFact:
    return RunFact("d", "now1", "manual", state, queued_at=at(0), start=at(0.5),
                   end=None if end is None else at(end), tasks=tasks, **kw)  # type: ignore[arg-type]


def facts_with_history(runs: int = 3) -> FakeFacts:
    return FakeFacts(histories={"d": [past_run(n) for n in range(1, runs + 1)]}, graphs={"d": dict(CHAIN)})


# -- projection ------------------------------------------------------------------------------------------------
def test_usual_durations_and_start_delays_are_medians_of_the_history() -> None:
    typical = typical_tasks([past_run(n) for n in (1, 2, 3)], CHAIN)
    assert {k: (v.duration, v.delay, v.runs) for k, v in typical.items()} == {
        "a": (2.0, 1.0, 3), "b": (3.0, 1.0, 3), "c": (1.0, 1.0, 3)}


def test_a_task_running_past_its_usual_time_pushes_the_finish_and_is_on_the_critical_path() -> None:
    typical = typical_tasks([past_run(n) for n in (1, 2, 3)], CHAIN)
    run = current(ti("a", 1, 3), ti("b", 4, None))
    projection = project(run, CHAIN, typical, at(20), 3)
    # b is 13 s over its 3 s: it ends "now"; c follows after its usual 1 s delay and 1 s run
    assert projection.finish == at(22)
    assert projection.critical_path == ("a", "b", "c")
    assert projection.tasks["b"].status == "running" and projection.tasks["b"].overrun == pytest.approx(13.0)
    # on time, the same run projects its usual end
    assert project(run, CHAIN, typical, at(5), 3).finish == at(4 + 3 + 1 + 1)


def test_a_task_waiting_on_a_full_pool_starts_after_the_queue_ahead_of_it() -> None:
    typical = typical_tasks([past_run(n) for n in (1, 2, 3)], CHAIN)
    run = current(ti("a", 1, 3), TaskFact("b", "scheduled", pool="trading_pool"))
    full = {"trading_pool": PoolUse(total=2, running=2, queued=4, open=0)}
    # b: 4 queued on 2 slots = 2 turns of its usual 3 s before it starts at 10 + 6, then b (3 s), c (1 s + 1 s)
    assert project(run, CHAIN, typical, at(10), 3, full).finish == at(10 + 6 + 3 + 1 + 1)
    assert project(run, CHAIN, typical, at(10), 3, {"trading_pool": PoolUse(2, 1, 0, 1)}).finish == at(10 + 3 + 2)


def test_without_history_the_projection_is_now_and_a_queued_run_waits_for_its_start() -> None:
    run = RunFact("d", "q", "manual", "queued", queued_at=at(0))
    assert project(run, CHAIN, {}, at(30)).finish == at(30)
    assert project(run, {}, {}, at(30)).finish == at(30)


# -- diagnosis -------------------------------------------------------------------------------------------------
def test_the_diagnosis_names_the_slow_task_its_usual_time_and_how_much_longer() -> None:
    typical = typical_tasks([past_run(n) for n in (1, 2, 3)], CHAIN)
    run = current(ti("a", 1, 3), ti("b", 4, None, try_number=2))
    diagnosis = diagnose(run, project(run, CHAIN, typical, at(34), 3), {}, at(34))
    assert diagnosis.text.startswith("Task b on the critical path has been running 30s, usually 3s: 27s longer "
                                     "than usual (10x)")
    assert "retried: b (try 2)" in diagnosis.text
    assert "Critical path: a -> b -> c." in diagnosis.text
    assert diagnosis.facts["slowest_task"] == {"task_id": "b", "seconds": 30.0, "usual_seconds": 3.0,
                                               "status": "running"}


def test_the_diagnosis_names_a_full_pool_a_queued_run_and_a_late_scheduled_start() -> None:
    pools = {"trading_pool": PoolUse(total=2, running=2, queued=3, open=0), "default_pool": PoolUse(128, 1, 0, 127)}
    run = RunFact("d", "s1", "scheduled", "running", logical_date=at(-600), queued_at=at(0), start=at(1),
                  tasks=(ti("a", 1, 3), TaskFact("b", "queued", pool="trading_pool")))
    text = diagnose(run, project(run, CHAIN, {}, at(60)), pools, at(60)).text
    assert "Pool trading_pool is full (2 running of 2 slots, 3 queued)" in text
    assert "the run was queued 10m after its scheduled time" in text
    assert "no successful run to compare with yet" in text
    queued = RunFact("d", "q1", "manual", "queued", queued_at=at(0))
    assert diagnose(queued, project(queued, CHAIN, {}, at(90)), {}, at(90)).text.startswith(
        "The run has been queued 1m 30s and has not started")


# -- the early-warning thread ----------------------------------------------------------------------------------
KW = {"sla": "d_sla", "dag_id": "d", "severity": "critical", "variant": "all", "reference": "queued",
      "budget_seconds": 60.0, "channels": [], "runbook": "#d", "description": "d in a minute",
      "warning_margin_seconds": 15.0}


@pytest.fixture
def outbox(pmx_home: Path) -> Outbox:
    alerting_config.clear_cache()
    return Outbox()


def watch(facts: FakeFacts, outbox: Outbox) -> EarlyWarning:
    return EarlyWarning(facts, outbox, {"critical": ["pagerduty", "slack"]}, "http://ui", "http://ui/runbook")


def slowed(facts: FakeFacts, kwargs: dict[str, object] | None = None) -> PendingDeadline:
    facts.add(current(ti("a", 1, 3), ti("b", 4, None)))
    pending = PendingDeadline("d", "now1", "manual", at(60), dict(kwargs or KW))
    facts.deadlines.append(pending)
    return pending


def test_a_slowed_run_is_warned_once_before_its_deadline_with_the_misss_dedup_key(outbox: Outbox) -> None:
    facts = facts_with_history()
    slowed(facts)
    ew = watch(facts, outbox)
    # projected finish = now + 2 s (c's usual delay and run): a warning once now + 2 > 60 - 15
    assert [ew.check(at(s)) for s in (10, 43, 44, 45)] == [0, 0, 1, 0]
    row = outbox.find("sla_warning", sla_dedup_key("d", "d_sla", "now1"))
    assert row is not None
    warning = Incident.from_json(row["payload"])
    assert warning.details["lead_seconds"] == 16.0 and warning.details["projected_finish"].startswith(
        "2026-12-08T15:00:46")
    assert warning.channels == ["pagerduty", "slack"] and warning.severity == "warning"
    assert "Task b on the critical path has been running 40s" in warning.details["diagnosis"]
    assert headline(warning).startswith("[EARLY WARNING] SLA d_sla at risk: d run now1 is projected to finish")


@pytest.mark.parametrize(("margin", "variant", "run_state"), [
    pytest.param(None, "all", "running", id="no-margin-no-warning"),
    pytest.param(15.0, "scheduled", "running", id="alert-not-for-this-run-type"),
    pytest.param(15.0, "all", "success", id="run-already-finished"),
])
def test_no_warning_without_margin_for_another_run_type_or_a_finished_run(
        outbox: Outbox, margin: float | None, variant: str, run_state: str) -> None:
    facts = facts_with_history()
    slowed(facts, {**KW, "warning_margin_seconds": margin, "variant": variant})
    run = facts.runs[("d", "now1")]
    facts.add(RunFact(run.dag_id, run.run_id, run.run_type, run_state, queued_at=run.queued_at, start=run.start,
                      tasks=run.tasks))
    assert watch(facts, outbox).check(at(50)) == 0


def test_the_miss_supersedes_the_warning_and_says_when_it_was_warned(outbox: Outbox) -> None:
    facts = facts_with_history()
    slowed(facts)
    ew = watch(facts, outbox)
    assert ew.check(at(44)) == 1
    context = {"dag_run": {"dag_id": "d", "dag_run_id": "now1", "run_type": "manual", "state": "running"},
               "deadline": {"deadline_time": at(60).isoformat()}}
    miss = build_miss_incident(context, KW, "http://ui", "http://ui/runbook")
    outbox.add_incident(miss)
    assert outbox.open_incidents("sla_warning", 0) == []  # superseded: closed without a message of its own
    enriched = ew.diagnosed(miss, at(61))
    assert enriched.details["warned_seconds_before_deadline"] == 16.0
    assert "Task b on the critical path has been running 57s, usually 3s" in enriched.details["diagnosis"]
    assert ew.diagnosed(enriched) is enriched  # once
    slack = slack_message(enriched, "k")
    assert any("*Why*\nTask b on the critical path" in b["text"]["text"] for b in slack["blocks"] if "text" in b)
    assert pagerduty_event(enriched, "trigger", "src")["custom_details"]["diagnosis"] == enriched.details["diagnosis"]
    assert ew.clear(at(70)) == 0  # nothing left to clear


def test_a_warned_run_that_succeeds_in_time_clears_the_warning_where_it_went(outbox: Outbox) -> None:
    facts = facts_with_history()
    slowed(facts)
    ew = watch(facts, outbox)
    assert ew.check(at(44)) == 1
    deliverer = Deliverer(outbox, alerting_config.load_alerting(), {}, "owner")
    deliverer.plan()
    assert ew.clear(at(50)) == 0  # still running: a warning is not withdrawn
    facts.add(current(ti("a", 1, 3), ti("b", 4, 50), ti("c", 51, 52), state="success", end=52))
    assert ew.clear(at(53)) == 1
    deliverer.plan()
    key = sla_dedup_key("d", "d_sla", "now1")
    cleared = outbox.find("sla_warning_cleared", key)
    assert cleared is not None and "finished at 2026-12-08T15:00:52" in cleared["summary"]
    warning = outbox.find("sla_warning", key)
    assert warning is not None and warning["resolved_at"] is not None
    sent = {(d["channel"], d["action"]) for d in outbox.deliveries(warning["id"])}
    closing = {(d["channel"], d["action"]) for d in outbox.deliveries(cleared["id"])}
    assert sent == {("pagerduty", "trigger"), ("slack", "notify")}
    assert closing == {("pagerduty", "resolve"), ("slack", "notify")}


def test_the_miss_is_diagnosed_before_it_is_routed_and_a_broken_diagnosis_is_counted(
        outbox: Outbox, pmx_home: Path) -> None:
    facts = facts_with_history()
    slowed(facts)
    ew = watch(facts, outbox)
    context = {"dag_run": {"dag_id": "d", "dag_run_id": "now1", "run_type": "manual", "state": "running"},
               "deadline": {"deadline_time": at(60).isoformat()}}
    incident_id, _ = outbox.add_incident(build_miss_incident(context, KW, "http://ui", "http://ui/runbook"))
    Deliverer(outbox, alerting_config.load_alerting(), {}, "owner", enrich=lambda i: ew.diagnosed(i, at(61))).plan()
    row = outbox.incident(incident_id)
    assert row is not None and "Task b on the critical path" in row["payload"]

    def broken(_: object) -> object:
        raise RuntimeError("metadata database gone")

    other = build_miss_incident({**context, "dag_run": {**context["dag_run"], "dag_run_id": "r2"}}, KW,
                                "http://ui", "http://ui/runbook")
    other_id, _ = outbox.add_incident(other)
    Deliverer(outbox, alerting_config.load_alerting(), {}, "owner", enrich=broken).plan()  # type: ignore[arg-type]
    routed = outbox.incident(other_id)
    assert routed is not None and routed["routed_at"] is not None and "diagnosis" not in routed["payload"]
    failures = [e for e in read_events(pmx_home / "logs" / "pipeline", "events")
                if e["event"] == "observability_failure"]
    assert [(e["component_failed"], e["reason"], e["dedup_key"]) for e in failures] == [
        ("alerts", "diagnosis", other.dedup_key)]


# -- the shipped configuration on the real calendar ------------------------------------------------------------
NY = "America/New_York"


def _shipped_kwargs(sla: str, variant: str) -> dict[str, object]:
    spec = next(s for s in load_sla_config(Path("config")).slas if s.name == sla)
    (alert,) = [a for a in deadline_alerts(spec) if a.callback.kwargs["variant"] == variant]
    return dict(alert.callback.kwargs)


@pytest.mark.parametrize(("sla", "variant", "margin"), [
    pytest.param("daily_etl_ready", "scheduled", 540.0, id="daily_etl-45m-budget-9m-margin"),
    pytest.param("auto_trader_cycle", "all", 60.0, id="auto_trader-5m-budget-1m-floor"),
    pytest.param("portfolio_master_premarket", "scheduled", 900.0, id="master-long-budget-15m-cap"),
    pytest.param("monitoring_cycle", "all", 120.0, id="monitoring-10m-budget-2m"),
    pytest.param("daily_etl_ready", "unscheduled", 540.0, id="daily_etl-manual-45m"),
])
def test_the_shipped_margins(sla: str, variant: str, margin: float) -> None:
    assert _shipped_kwargs(sla, variant)["warning_margin_seconds"] == margin


def test_the_shipped_daily_etl_sla_warns_a_slow_tuesday_run_fourteen_minutes_ahead(outbox: Outbox) -> None:
    """2026-12-08 (a Tuesday, EST): the 05:15 run must be done by 06:00 New York = 11:00 UTC."""
    kwargs = _shipped_kwargs("daily_etl_ready", "scheduled")
    slot = datetime(2026, 12, 8, 10, 15, tzinfo=UTC)
    deadline = datetime(2026, 12, 8, 11, 0, tzinfo=UTC)
    graph = {"extract": [], "load": ["extract"], "forecast": ["load"]}

    def day(n: int, load_minutes: float, end: bool = True) -> RunFact:
        base = slot - timedelta(days=n)
        m = timedelta(minutes=1)
        tasks = (TaskFact("extract", "success", start=base + m, end=base + 5 * m),
                 TaskFact("load", "success" if end else "running", start=base + 6 * m,
                          end=base + (6 + load_minutes) * m if end else None),
                 TaskFact("forecast", "success" if end else None, start=base + (7 + load_minutes) * m if end else None,
                          end=base + (12 + load_minutes) * m if end else None))
        return RunFact("daily_etl", f"scheduled__{base:%Y-%m-%d}", "scheduled", "success" if end else "running",
                       logical_date=base, queued_at=base, start=base, end=tasks[2].end, tasks=tasks)

    facts = FakeFacts(histories={"daily_etl": [day(n, 10) for n in (1, 2, 3, 4)]}, graphs={"daily_etl": graph})
    run = facts.add(day(0, 10, end=False))
    facts.deadlines.append(PendingDeadline("daily_etl", run.run_id, "scheduled", deadline, kwargs))
    ew = watch(facts, outbox)
    minute = timedelta(minutes=1)
    fired = [t for t in (slot + k * minute for k in range(16, 45)) if ew.check(t)]
    # load usually takes 10 min and forecast 5 after a 1 min delay: the projection passes 10:51 at 10:46
    assert fired == [slot + 31 * minute]
    row = outbox.find("sla_warning", sla_dedup_key("daily_etl", "daily_etl_ready", run.run_id))
    assert row is not None and '"lead_seconds": 840.0' in row["payload"]
    assert "its deadline 2026-12-08T11:00:00" in row["summary"]
