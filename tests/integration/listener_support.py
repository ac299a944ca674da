"""Helpers of the listener integration tests: run a DAG on the session stack, read listener events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.pipeline_logger import read_events
from local_stack.stack import AirflowStack

SCENARIO_DAG = "listener_scenarios"
PROBE_DAG = "listener_import_probe"
SECRET = "Zq7-listener-SECRET-4815162342"  # the Connection password the failing task puts in its exception
MAPPED = [("square", i) for i in range(3)]
EXPECTED_STATES = {("ok", -1): "success", ("flaky", -1): "success", ("broken", -1): "failed",
                   ("skipper", -1): "skipped", **{key: "success" for key in MAPPED}}


def log_dir(stack: AirflowStack) -> Path:
    """The pipeline_logger directory of the stack (``$PMX_LOG_DIR/pipeline``)."""
    return Path(stack.env["PMX_LOG_DIR"]) / "pipeline"


def listener_events(directory: Path) -> list[dict[str, Any]]:
    """Every listener event of the ``pipeline`` and ``events`` streams, ordered by time."""
    out = [e for stream in ("pipeline", "events") for e in read_events(directory, stream)  # type: ignore[arg-type]
           if e.get("component") == "listener"]
    return sorted(out, key=lambda e: e["ts"])


@dataclass
class RunResult:
    """One finished run: its state, the task-instance states and what the listener produced meanwhile."""

    run_id: str
    state: str
    ti_states: dict[tuple[str, int], str]
    tries: dict[tuple[str, int], int]
    statsd: list[str] = field(default_factory=list)


def run_dag(stack: AirflowStack, dag_id: str, statsd_lines: Callable[[], list[str]],
            timeout: float = 300) -> RunResult:
    """Trigger ``dag_id``, wait for a terminal state and collect task states and the StatsD lines sent."""
    api = stack.api
    start = len(statsd_lines())
    run_id = api.trigger(dag_id)
    run = api.wait_for_run(dag_id, run_id, timeout=timeout)
    tis = api.task_instances(dag_id, run_id)
    states = {(t["task_id"], t["map_index"]): t["state"] for t in tis}
    tries = {(t["task_id"], t["map_index"]): t["try_number"] for t in tis}
    return RunResult(run_id, run["state"], states, tries, statsd_lines()[start:])


def create_secret_connection(stack: AirflowStack) -> None:
    """The Connection whose password ``listener_scenarios.broken`` puts in its exception (idempotent)."""
    body = {"connection_id": "listener_secret", "conn_type": "generic", "host": "broker.invalid",
            "login": "svc", "password": SECRET}
    stack.api.request("POST", "/connections", json=body, ok=(200, 201, 409))


def set_env_and_restart(stack: AirflowStack, changes: dict[str, str | None]) -> None:
    """Change the scheduler's environment (``None`` removes a variable) and restart it."""
    for key, value in changes.items():
        if value is None:
            stack.env.pop(key, None)
        else:
            stack.env[key] = value
    stack.restart_component("scheduler")
    stack.wait_healthy(timeout=240)
