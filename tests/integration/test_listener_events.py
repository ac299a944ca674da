"""The listener plugin under a real scheduler: exact event sequences, StatsD packets, redaction, thresholds.

One run of ``listener_scenarios`` (a success, a retry then success, a failure, a skip, three mapped tasks)
on the session stack, while ``listener_import_probe`` is made to fail to import; every test below reads
what that run produced.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from alerts.outbox import Outbox
from listeners.schema import schema_errors
from tests.integration.listener_support import (
    EXPECTED_STATES,
    MAPPED,
    PROBE_DAG,
    SCENARIO_DAG,
    SECRET,
    RunResult,
    create_secret_connection,
    listener_events,
    log_dir,
    run_dag,
)
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]  # see tests/wait_budget.py

EXPECTED_TI = {
    ("ok", -1): [("task_running", 1), ("task_success", 1)],
    ("flaky", -1): [("task_running", 1), ("task_up_for_retry", 1), ("task_running", 2), ("task_success", 2)],
    ("broken", -1): [("task_running", 1), ("task_failed", 1)],
    ("skipper", -1): [("task_running", 1), ("task_skipped", 1)],
    **{key: [("task_running", 1), ("task_success", 1)] for key in MAPPED},
}


@dataclass
class Scenario:
    result: RunResult
    events: list[dict[str, Any]]       # every listener event of the stack so far
    run_events: list[dict[str, Any]]   # the task and DAG-run events of this run
    probe_file: str
    home: Path
    events_dir: Path


@pytest.fixture(scope="module")
def scenario(airflow_stack: Any, statsd_sink: Any) -> Scenario:
    """Run the scenarios DAG once with an import error going on; wait until every event is in."""
    stack, api = airflow_stack, airflow_stack.api
    home = Path(stack.env["PMX_HOME"])
    create_secret_connection(stack)
    api.wait_for_dags([SCENARIO_DAG, PROBE_DAG])
    api.set_paused(SCENARIO_DAG, False)
    marker = home / "listener_import_probe.fail"
    marker.touch()
    try:
        result = run_dag(stack, SCENARIO_DAG, statsd_sink.lines)
        events_dir = log_dir(stack)

        def probe_done() -> list[dict[str, Any]] | None:
            found = [e for e in listener_events(events_dir) if e["event"] == "dag_import_error"
                     and e["filename"].endswith(f"{PROBE_DAG}.py")]
            alerts = [e for e in listener_events(events_dir)
                      if e["event"] == "alert" and e["rule"] == "import_errors"]
            return found if len(found) >= 2 and alerts else None

        probe = wait_for(probe_done, 240, "two import errors of the probe DAG and their alert")
    finally:
        marker.unlink(missing_ok=True)

    def run_complete() -> list[dict[str, Any]] | None:
        events = listener_events(events_dir)
        mine = [e for e in events if e.get("run_id") == result.run_id and e["event"] != "alert"]
        done = sum(1 for e in mine if e["event"].startswith("dag_run_")) == 2
        expected = sum(len(seq) for seq in EXPECTED_TI.values())
        tasks = [e for e in mine if e["event"].startswith("task_")]
        return events if done and len(tasks) == expected else None

    events = wait_for(run_complete, 60, "all listener events of the run")
    wait_for(lambda: sum(1 for x in statsd_sink.lines() if x.startswith("pmx.dagrun.event")
                         and f"dag_id={SCENARIO_DAG}" in x) >= 2, 30, "the DAG-run StatsD packets")
    result.statsd = [x for x in statsd_sink.lines() if x.startswith("pmx.")]
    run_events = [e for e in events if e.get("run_id") == result.run_id and e["event"] != "alert"
                  and e["event"].startswith(("task_", "dag_run_"))]
    return Scenario(result, events, run_events, probe[0]["filename"], home, events_dir)


def test_the_run_reaches_the_expected_states(scenario: Scenario) -> None:
    assert scenario.result.state == "failed"
    assert scenario.result.ti_states == EXPECTED_STATES


def test_each_task_instance_has_the_exact_event_sequence(scenario: Scenario) -> None:
    per_ti: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
    for e in scenario.run_events:
        if e["event"].startswith("task_"):
            per_ti[(e["task_id"], e["map_index"])].append((e["event"], e["try_number"]))
    assert dict(per_ti) == EXPECTED_TI


def test_dag_run_events_bracket_the_task_events(scenario: Scenario) -> None:
    names = [e["event"] for e in scenario.run_events]
    assert names[0] == "dag_run_running" and names[-1] == "dag_run_failed"
    assert names.count("dag_run_running") == 1 and names.count("dag_run_failed") == 1
    final = scenario.run_events[-1]
    assert final["msg"] == "task_failure" and final["run_type"] == "manual"
    assert final["duration_s"] > 0 and final["hook"] == "on_dag_run_failed"
    queued = {e["queued_at"] for e in scenario.run_events if e["event"].startswith("dag_run_")}
    assert len(queued) == 1 and None not in queued  # the run's one queued time, on both events
    assert queued.pop() <= final["start_date"]  # same UTC ISO format: text order is time order


def test_task_events_carry_timing_resources_and_errors(scenario: Scenario) -> None:
    by_name = defaultdict(list)
    for e in scenario.run_events:
        by_name[(e["event"], e.get("task_id"))].append(e)
    for e in scenario.run_events:
        if e["event"].startswith("task_") and e["state"] != "running":
            assert e["duration_s"] >= 0 and e["cpu_s"] > 0 and e["peak_rss_bytes"] > 10_000_000, e
            assert e["run_type"] == "manual" and e["previous_state"] == "running"
        if e["event"] == "task_running":
            assert e["previous_state"] == "queued" and e["duration_s"] is None
    (retry,) = by_name[("task_up_for_retry", "flaky")]
    assert retry["error_type"] == "RuntimeError" and retry["error"] == "first try fails on purpose"
    assert retry["max_tries"] == 1 and retry["level"] == "warning"
    (failed,) = by_name[("task_failed", "broken")]
    assert failed["error_type"] == "PermissionError" and failed["level"] == "error"
    assert failed["error"] == "upstream refused the login; credential used: ***"


def test_every_event_validates_against_the_schema(scenario: Scenario) -> None:
    kinds = Counter(e["event"] for e in scenario.events)
    assert {"task_running", "task_success", "task_failed", "task_up_for_retry", "task_skipped",
            "dag_run_running", "dag_run_failed", "dag_import_error", "alert", "component_starting",
            "component_stopping"} <= set(kinds)
    problems = {e["event"] + "@" + e["ts"]: schema_errors(e) for e in scenario.events}
    assert {k: v for k, v in problems.items() if v} == {}


def test_task_processes_report_lifecycle_around_their_task(scenario: Scenario) -> None:
    by_pid: dict[int, list[str]] = defaultdict(list)
    for e in scenario.events:
        mine = e.get("run_id") == scenario.result.run_id and e["event"] != "alert"
        if mine and (e["event"].startswith("component_") or e["hook"].startswith("on_task_instance")):
            by_pid[e["pid"]].append(e["event"])
    sequences = sorted(by_pid.values())
    assert len(sequences) == 8  # one task-runner process per try
    for seq in sequences:
        assert seq[0] == "component_starting" and seq[1] == "task_running" and seq[-1] == "component_stopping"
        assert len(seq) == 4 and seq[2].startswith("task_")
    stops = [e for e in scenario.events
             if e["event"] == "component_stopping" and e.get("run_id") == scenario.result.run_id]
    assert all(e["failures"] == 0 and e["queue_flushed"] and e["queue_dropped"] == 0 for e in stops)


def _counter(lines: list[str], prefix: str) -> Counter[str]:
    return Counter(line for line in lines if line.startswith(prefix) and f"dag_id={SCENARIO_DAG}" in line)


def test_statsd_packets_count_every_transition(scenario: Scenario) -> None:
    lines = scenario.result.statsd
    expected = Counter()
    for (task_id, _), seq in EXPECTED_TI.items():
        for event, _try in seq:
            state = event.removeprefix("task_")
            expected[f"pmx.task.event,dag_id={SCENARIO_DAG},task_id={task_id},state={state}:1|c"] += 1
    assert _counter(lines, "pmx.task.event,") == expected
    assert _counter(lines, "pmx.dagrun.event,") == Counter({
        f"pmx.dagrun.event,dag_id={SCENARIO_DAG},state=running:1|c": 1,
        f"pmx.dagrun.event,dag_id={SCENARIO_DAG},state=failed:1|c": 1})
    terminal = sum(1 for seq in EXPECTED_TI.values() for event, _ in seq if event != "task_running")
    for name in ("pmx.task.duration,", "pmx.task.cpu_time,", "pmx.task.peak_rss,"):
        assert sum(_counter(lines, name).values()) == terminal, name
    assert all(line.endswith("|ms") for line in _counter(lines, "pmx.task.duration,"))
    assert sum(_counter(lines, "pmx.dagrun.duration,").values()) == 1
    hooks = Counter(line.split("hook=")[1].split(":")[0] for line in lines
                    if line.startswith("pmx.listener.hook_latency,"))
    assert hooks["on_task_instance_running"] >= 8 and hooks["on_dag_run_failed"] >= 1
    assert any(line.startswith("pmx.listener.events_written,stream=pipeline:1|c") for line in lines)
    assert not [line for line in lines if line.startswith("pmx.observability.failure,component=listener")]


def test_the_secret_never_reaches_an_event_a_metric_or_an_alert(scenario: Scenario) -> None:
    for path in sorted(scenario.events_dir.glob("*.jsonl*")):
        assert SECRET not in path.read_text(errors="replace"), path
    assert not [line for line in scenario.result.statsd if SECRET in line]
    outbox = scenario.home / "data" / "alerts" / "outbox.sqlite"
    if outbox.exists():
        assert SECRET.encode() not in outbox.read_bytes()
    assert any("credential used: ***" in (e.get("error") or "") for e in scenario.run_events)


def test_import_errors_are_reported_once_as_an_alert_and_routed(scenario: Scenario) -> None:
    errors = [e for e in scenario.events
              if e["event"] == "dag_import_error" and e["filename"] == scenario.probe_file]
    assert errors[0]["new"] is True and errors[0]["hook"] == "on_new_dag_import_error"
    assert all(e["new"] is False for e in errors[1:]) and len(errors) >= 2
    assert errors[0]["error_type"] == "ImportError" and "failing on purpose" in errors[0]["error"]
    alerts = [e for e in scenario.events if e["event"] == "alert" and e["key"] == scenario.probe_file]
    assert len(alerts) == 1  # hysteresis: the error repeats on every parse, the alert does not
    (alert,) = alerts
    assert alert["status"] == "firing" and alert["rule"] == "import_errors" and alert["routed"] is True
    outbox = Outbox(scenario.home / "data" / "alerts" / "outbox.sqlite")
    incident = outbox.find("error_threshold", alert["dedup_key"])
    assert incident is not None and incident["severity"] == "error"


def test_threshold_state_is_shared_by_runners_and_scheduler(scenario: Scenario, airflow_stack: Any) -> None:
    cmd = [sys.executable, "-m", "scripts.error_monitor", "--hours", "1", "--dag-id", SCENARIO_DAG]
    env = airflow_stack.env
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    windows = {(w["rule"], w["key"]): w["count"] for w in report["state"]["windows"]}
    assert windows[("dag_failures", SCENARIO_DAG)] >= 1      # written by the task runner of `broken`
    assert windows[("retry_storm", SCENARIO_DAG)] >= 1       # written by the task runner of `flaky`
    streaks = {s["dag_id"]: s["failed_in_a_row"] for s in report["state"]["streaks"]}
    assert streaks[SCENARIO_DAG] >= 1                         # written by the scheduler's DAG-run hook
    assert report["history"]["by_task"][f"{SCENARIO_DAG}.broken"]["failed"] >= 1
    assert report["history"]["by_error_type"]["PermissionError"] >= 1


def test_a_retried_task_has_one_openlineage_run_per_try_under_the_dag_run(scenario: Scenario,
                                                                         airflow_stack: Any) -> None:
    """``flaky`` fails its first try and succeeds on the second: START/FAIL then START/COMPLETE, each try its own
    run id as the provider derives it (DAG, task, try, date, map index), both under the DAG run's run."""
    from datetime import datetime

    from airflow.providers.openlineage.plugins.adapter import OpenLineageAdapter

    from lineage.summary import read_events

    run = airflow_stack.api.dag_run(SCENARIO_DAG, scenario.result.run_id)
    date = datetime.fromisoformat((run["logical_date"] or run["run_after"]).replace("Z", "+00:00"))
    dag_run_id = OpenLineageAdapter.build_dag_run_id(SCENARIO_DAG, date, clear_number=0)
    tries = {n: OpenLineageAdapter.build_task_instance_run_id(SCENARIO_DAG, "flaky", n, date, -1) for n in (1, 2)}
    path = Path(airflow_stack.env["AIRFLOW_HOME"]) / "openlineage" / "events.jsonl"

    final = {"success": "COMPLETE", "failed": "FAIL"}[scenario.result.state]  # `broken` fails the run

    def events() -> list[dict[str, Any]] | None:
        found = [e for e in read_events(path)[0] if e["run"]["runId"] in {dag_run_id, *tries.values()}]
        return found if any(e["eventType"] == final and e["run"]["runId"] == dag_run_id for e in found) else None

    found = sorted(wait_for(events, 60, f"the DAG run's {final} event under run id {dag_run_id}"),
                   key=lambda e: e["eventTime"])
    flaky = [(e["eventType"], e["run"]["runId"]) for e in found if e["job"]["name"] == f"{SCENARIO_DAG}.flaky"]
    assert flaky == [("START", tries[1]), ("FAIL", tries[1]), ("START", tries[2]), ("COMPLETE", tries[2])]
    dag_events = [e for e in found if e["run"]["runId"] == dag_run_id]
    assert {e["job"]["name"] for e in dag_events} == {SCENARIO_DAG}
    assert [e["eventType"] for e in dag_events] == ["START", final]
    for event in found:
        if event["job"]["name"] == f"{SCENARIO_DAG}.flaky":
            parent = event["run"]["facets"]["parent"]
            assert parent["run"]["runId"] == dag_run_id and parent["job"]["name"] == SCENARIO_DAG
            assert parent["job"]["namespace"] == event["job"]["namespace"] == "portfolio-maximizer"
    (fail,) = [e for e in found if e["eventType"] == "FAIL" and e["job"]["name"] == f"{SCENARIO_DAG}.flaky"]
    assert "first try fails on purpose" in fail["run"]["facets"]["errorMessage"]["message"]
