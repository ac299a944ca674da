"""Observability never breaks the pipeline: with the log directory read-only, the StatsD port closed or every
hook raising inside, ``listener_scenarios`` ends in exactly the states of a run with the plugin disabled.

The scheduler of the session stack is restarted with a changed environment for each run (its task runners
inherit it) and restored afterwards.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.listener_support import (
    EXPECTED_STATES,
    SCENARIO_DAG,
    RunResult,
    create_secret_connection,
    listener_events,
    log_dir,
    run_dag,
    set_env_and_restart,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3000)]  # see tests/wait_budget.py
FAULT_ENV = ("PMX_LISTENER_ENABLED", "PMX_LOG_DIR", "PMX_STATSD_PORT", "PMX_LISTENER_INJECT_FAULT")


def _closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_only_dir(path: Path) -> Path:
    """An existing directory nobody can create files in (immutable for root, mode 555 otherwise)."""
    path.mkdir(parents=True)
    if shutil.which("chattr"):
        subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    try:
        (path / "probe").touch()
    except OSError:
        return path
    (path / "probe").unlink()
    path.chmod(0o555)
    try:
        (path / "probe").touch()
    except OSError:
        return path
    pytest.fail(f"cannot make {path} read-only here (neither chattr +i nor chmod 555 prevents writes)")


@pytest.fixture(scope="module")
def runs(airflow_stack: Any, statsd_sink: Any,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Four runs, scheduler env changed: no plugin, read-only logs, StatsD port closed, raising hooks."""
    stack = airflow_stack
    create_secret_connection(stack)
    stack.api.wait_for_dags([SCENARIO_DAG])
    stack.api.set_paused(SCENARIO_DAG, False)
    saved = {k: stack.env.get(k) for k in FAULT_ENV}
    ro_root = tmp_path_factory.mktemp("listener-ro")
    ro_pipeline = _read_only_dir(ro_root / "pipeline")
    out: dict[str, Any] = {"ro_pipeline": ro_pipeline}
    try:
        set_env_and_restart(stack, {"PMX_LISTENER_ENABLED": "false"})
        out["disabled"] = run_dag(stack, SCENARIO_DAG, statsd_sink.lines)
        set_env_and_restart(stack, {"PMX_LISTENER_ENABLED": None, "PMX_LOG_DIR": str(ro_root)})
        out["read_only_logs"] = run_dag(stack, SCENARIO_DAG, statsd_sink.lines)
        closed = str(_closed_udp_port())
        set_env_and_restart(stack, {"PMX_LOG_DIR": saved["PMX_LOG_DIR"], "PMX_STATSD_PORT": closed})
        out["statsd_port_closed"] = run_dag(stack, SCENARIO_DAG, statsd_sink.lines)
        set_env_and_restart(stack, {"PMX_STATSD_PORT": saved["PMX_STATSD_PORT"],
                                    "PMX_LISTENER_INJECT_FAULT": "all"})
        out["raising_hooks"] = run_dag(stack, SCENARIO_DAG, statsd_sink.lines)
        out["events"] = listener_events(log_dir(stack))
        yield out
    finally:
        subprocess.run(["chattr", "-i", str(ro_pipeline)], capture_output=True, check=False)
        set_env_and_restart(stack, saved)


def _pmx(result: RunResult) -> list[str]:
    return [line for line in result.statsd if line.startswith("pmx.") and "listener_scenarios" in line]


@pytest.mark.parametrize("fault", ["read_only_logs", "statsd_port_closed", "raising_hooks"])
def test_states_match_the_run_without_the_plugin(runs: dict[str, Any], fault: str) -> None:
    disabled, faulty = runs["disabled"], runs[fault]
    assert disabled.state == "failed" and disabled.ti_states == EXPECTED_STATES
    assert (faulty.state, faulty.ti_states) == (disabled.state, disabled.ti_states)
    assert faulty.tries == disabled.tries


def test_the_disabled_plugin_emits_nothing(runs: dict[str, Any]) -> None:
    run_id = runs["disabled"].run_id
    assert not [e for e in runs["events"] if e.get("run_id") == run_id]
    assert _pmx(runs["disabled"]) == []


def test_read_only_logs_are_counted_as_failures(runs: dict[str, Any]) -> None:
    result = runs["read_only_logs"]
    assert list(runs["ro_pipeline"].iterdir()) == []
    failures = [line for line in result.statsd
                if line.startswith("pmx.observability.failure,component=listener,reason=event_write:")]
    assert len(failures) >= 16  # every task event of the run failed to write, and was counted
    assert any(line.startswith("pmx.task.event,dag_id=listener_scenarios") for line in result.statsd)


def test_a_closed_statsd_port_loses_metrics_only(runs: dict[str, Any]) -> None:
    result = runs["statsd_port_closed"]
    assert _pmx(result) == []  # nothing reaches the sink: the project's StatsD port is closed
    mine = [e["event"] for e in runs["events"]
            if e.get("run_id") == result.run_id and e["event"].startswith(("task_", "dag_run_"))]
    assert mine.count("task_running") == 8 and mine[-1] == "dag_run_failed"  # the JSON events are complete
    assert any(line.startswith("airflow.") for line in result.statsd)  # Airflow's own metrics still flow


def test_raising_hooks_are_reported_once_per_process(runs: dict[str, Any]) -> None:
    result = runs["raising_hooks"]
    failures = [line for line in result.statsd
                if line.startswith("pmx.observability.failure,component=listener")]
    assert failures and all("reason=hook_error" in line for line in failures)
    reports = [e for e in runs["events"] if e["event"] == "observability_failure"
               and e.get("reason") == "hook_error" and e.get("error_type") == "InjectedFault"]
    task_runner_reports = [e for e in reports if e["airflow_component"] == "task-runner"]
    assert len({e["pid"] for e in task_runner_reports}) == len(task_runner_reports) >= 8
    assert not [e for e in runs["events"] if e.get("run_id") == result.run_id]
