"""The session stack is healthy and runs a trivial DAG to success."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_stack_runs_a_dag(airflow_stack) -> None:
    api = airflow_stack.api
    api.wait_for_dags(["stack_smoke"])
    api.set_paused("stack_smoke", False)
    run_id = api.trigger("stack_smoke")
    run = api.wait_for_run("stack_smoke", run_id, timeout=180)
    assert run["state"] == "success"
    (ti,) = api.task_instances("stack_smoke", run_id)
    assert ti["state"] == "success"
