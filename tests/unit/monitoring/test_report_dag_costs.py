"""Retries, schedule delay, task- and CPU-seconds per DAG and the master run's Gantt, against the fixture rows."""

from __future__ import annotations

import json
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from monitoring.report_dag_costs import dag_costs, gantt, join_cpu
from monitoring.report_dags import from_api, from_events

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "report"
API = json.loads((FIXTURES / "api_rows.json").read_text())
EVENTS = [json.loads(line) for line in (FIXTURES / "master_events.jsonl").read_text().splitlines()]


class FixtureApi:
    """Answers the two listings from the fixture rows, in pages."""

    def request(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        key = "dag_runs" if path == "/dags/~/dagRuns" else "task_instances"
        return {key: API[key][params["offset"]:params["offset"] + params["limit"]]}


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _api_records() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    runs, tasks = from_api(FixtureApi(), "2026-11-01T00:00:00Z")
    return runs, join_cpu(tasks, API["listener_cpu"])


def test_retries_from_the_api_count_instances_and_extra_tries() -> None:
    costs = dag_costs(*_api_records())
    etl = [t for t in API["task_instances"] if t["dag_id"] == "daily_etl"]
    assert costs["daily_etl"]["task_instances"] == len(etl)
    assert costs["daily_etl"]["retried_tasks"] == sum(t["try_number"] > 1 for t in etl)
    assert costs["daily_etl"]["retries"] == sum(t["try_number"] - 1 for t in etl)
    assert (costs["auto_trader"]["retried_tasks"], costs["auto_trader"]["retries"]) == (0, 0)


@pytest.mark.parametrize("dag_id", ["daily_etl", "auto_trader"])
def test_schedule_delay_is_queued_to_start(dag_id: str) -> None:
    costs = dag_costs(*_api_records())[dag_id]
    task_delays = [(_t(t["start_date"]) - _t(t["queued_when"])).total_seconds()
                   for t in API["task_instances"] if t["dag_id"] == dag_id]
    run_delays = [(_t(r["start_date"]) - _t(r["queued_at"])).total_seconds()
                  for r in API["dag_runs"] if r["dag_id"] == dag_id]
    assert costs["task_delay"]["p50_s"] == pytest.approx(statistics.median(task_delays))
    assert costs["task_delay"]["max_s"] == pytest.approx(max(task_delays))
    assert costs["task_delay"]["count"] == len(task_delays)
    assert costs["run_delay"]["p50_s"] == pytest.approx(statistics.median(run_delays))
    if len(task_delays) > 1:
        p95 = statistics.quantiles(task_delays, n=100, method="inclusive")[94]
        assert costs["task_delay"]["p95_s"] == pytest.approx(p95)


def test_task_seconds_and_cpu_seconds_from_the_api_and_the_listener() -> None:
    costs = dag_costs(*_api_records())
    for dag_id in ("daily_etl", "auto_trader"):
        durations = [t["duration"] for t in API["task_instances"] if t["dag_id"] == dag_id]
        assert costs[dag_id]["task_seconds"] == pytest.approx(sum(durations))
    # the API shows the latest try only: its CPU is the listener's event of that very try (not try 2 of map 1)
    latest = {(t["dag_id"], t["dag_run_id"], t["task_id"], t["map_index"], t["try_number"])
              for t in API["task_instances"]}
    cpu = [e["cpu_s"] for e in API["listener_cpu"] if e["dag_id"] == "daily_etl"
           and (e["dag_id"], e["run_id"], e["task_id"], e["map_index"], e["try_number"]) in latest]
    assert costs["daily_etl"]["cpu_seconds"] == pytest.approx(sum(cpu)) == pytest.approx(11.5 + 7.25)
    assert costs["daily_etl"]["cpu_measured"] == len(cpu)


def test_costs_and_retries_from_the_listener_events() -> None:
    runs, tasks = from_events(EVENTS)
    master = dag_costs(runs, tasks)["portfolio_master"]
    finished = [e for e in EVENTS if e["event"].startswith("task_") and e["event"] != "task_running"]
    assert master["task_seconds"] == pytest.approx(sum(e["duration_s"] for e in finished))
    assert master["cpu_seconds"] == pytest.approx(sum(e["cpu_s"] for e in finished if e["cpu_s"] is not None))
    assert master["cpu_measured"] == sum(e["cpu_s"] is not None for e in finished)
    assert (master["retried_tasks"], master["retries"]) == (1, 1)  # etl.extract[0]: try 1 then try 2
    assert master["task_delay"]["count"] == 0  # a task runner's events carry no queued time
    run_delays = [(_t(e["start_date"]) - _t(e["queued_at"])).total_seconds()
                  for e in EVENTS if e["event"].startswith("dag_run_")]
    assert master["run_delay"]["count"] == len(run_delays) == 2  # a run event carries its run's queued_at
    assert master["run_delay"]["p50_s"] == pytest.approx(statistics.median(run_delays))
    assert master["run_delay"]["max_s"] == pytest.approx(max(run_delays))


def test_gantt_is_every_try_of_the_latest_master_run() -> None:
    runs, tasks = from_events(EVENTS)
    now = "2026-12-02T09:03:30.000000Z"
    chart = gantt(runs, tasks, now=now)
    newest = [e for e in EVENTS if e["event"].startswith("task_") and e["run_id"] == "manual__new"]
    assert (chart["dag_id"], chart["run_id"], chart["state"]) == ("portfolio_master", "manual__new", "running")
    assert len(chart["bars"]) == len(newest)
    expected = sorted(((_t(e["end_date"] if e.get("end_date") else now) - _t(e["start_date"])).total_seconds(),
                       e["try_number"]) for e in newest)
    assert sorted((b["duration_s"], b["try_number"]) for b in chart["bars"]) == expected
    report = next(b for b in chart["bars"] if b["task"] == "performance_report")
    assert (report["state"], report["end"]) == ("running", now)  # still running: it ends at the report's time
    assert {b["task"] for b in chart["bars"]} >= {"etl.extract[0]", "etl.forecast"}


def test_gantt_without_a_master_run_is_empty() -> None:
    runs, tasks = _api_records()
    assert gantt(runs, tasks) == {"dag_id": "portfolio_master", "run_id": None, "bars": []}
