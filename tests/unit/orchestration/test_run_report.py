"""The report task judges the run's final state from its other tasks, the way Airflow does from leaves."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from orchestration.run_report import effective_leaves, run_state

REPORT = "performance_report"


def _task(task_id: str, *downstream: str) -> SimpleNamespace:
    return SimpleNamespace(task_id=task_id, downstream_task_ids=set(downstream))


TASKS = [_task("etl", "trading.trade", "monitoring.check"), _task("trading.trade", "trading.snapshot"),
         _task("trading.snapshot", REPORT), _task("monitoring.check", REPORT), _task(REPORT)]


def test_leaves_ignore_the_report_task() -> None:
    assert effective_leaves(TASKS, REPORT) == {"trading.snapshot", "monitoring.check"}


@pytest.mark.parametrize(("states", "expected"), [
    ({"etl": "success", "trading.trade_0": "success", "trading.trade_1": "success",
      "trading.snapshot": "success", "monitoring.check": "success", REPORT: "running"}, "success"),
    ({"etl": "success", "trading.trade_0": "failed", "trading.snapshot": "upstream_failed",
      "monitoring.check": "success", REPORT: "running"}, "failed"),
    ({"etl": "failed", "trading.snapshot": "upstream_failed", "monitoring.check": "success",
      REPORT: "running"}, "failed"),
    ({"etl": "success", "trading.snapshot": "skipped", "monitoring.check": "success", REPORT: "running"},
     "success"),
    ({"etl": "success", "trading.snapshot": "running", "monitoring.check": "success", REPORT: "running"},
     "running"),
], ids=["green", "failed-trade", "failed-etl-not-a-leaf-but-leaves-upstream-failed", "skipped-leaf",
        "unfinished"])
def test_run_state_follows_airflows_leaf_rule(states: dict[str, str], expected: str) -> None:
    assert run_state(states, effective_leaves(TASKS, REPORT), REPORT) == expected
