"""Secrets never leak: a canary used as a Connection password and passed in a run's conf stays out of every
file the run leaves behind (Airflow home, PMX home, logs, lineage, outbox and monitor databases, the
performance report built after the run).

One run of ``secret_canary`` (tests/integration/dags/secret_canary.py) on the session stack: the canary is
written to a ``.env`` file (where an operator keeps it), registered as the password of the Connection
``pmx_secret_canary``, and passed in the conf under a plain key, under a secret-looking key (``note_token``)
and as ``password=...`` inside a value; the task reads the Connection and fails with the password in its
error message. Exempt stores, and why: the ``.env`` file (the canary's source) and the Airflow metadata
database (``airflow.db``: it keeps the run conf as given and the API audit log, like any credential store
of the deployment; it is not an output the project writes or ships).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]  # see tests/wait_budget.py
DAG_ID = "secret_canary"
CONN_ID = "pmx_secret_canary"


def _exempt(path: Path, root: Path, env_file: Path) -> bool:
    if path == env_file:
        return True
    rel = path.relative_to(root)
    return rel.parts[:1] == ("airflow",) and path.name.startswith("airflow.db")


def _leaks(root: Path, canary: bytes, env_file: Path) -> dict[str, int]:
    """Files under ``root`` (not exempt) whose bytes contain ``canary``, with the number of hits."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if _exempt(path, root, env_file):
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if canary in data:
            out[str(path.relative_to(root))] = data.count(canary)
    return out


def _lineage_events(home: Path) -> list[dict[str, Any]]:
    file = home / "openlineage" / "events.jsonl"
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]


def _listener_events(pmx_logs: Path, run_id: str) -> list[dict[str, Any]]:
    out = []
    for file in sorted((pmx_logs / "pipeline").glob("*.jsonl")):
        out += [json.loads(line) for line in file.read_text().splitlines() if run_id in line]
    return out


def _wait_for_outputs(home: Path, pmx_logs: Path, run_id: str,
                      timeout: float = 90) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Lineage and listener events of the run once both DAG-level failures (sent by the scheduler) are written."""
    deadline = time.monotonic() + timeout
    while True:
        lineage = [e for e in _lineage_events(home) if run_id in json.dumps(e)]
        listener = _listener_events(pmx_logs, run_id)
        if (any(e.get("eventType") == "FAIL" and e["job"]["name"] == DAG_ID for e in lineage)
                and any(e.get("event") == "dag_run_failed" for e in listener)):
            return lineage, listener
        assert time.monotonic() < deadline, f"no DAG-level failure events for {run_id} after {timeout:.0f}s"
        time.sleep(1)


@pytest.fixture(scope="module")
def canary_run(airflow_stack: Any) -> dict[str, Any]:
    """One failed run of ``secret_canary`` carrying the canary; the stack root and the canary."""
    root = airflow_stack.layout.home.parent
    canary = f"cAnArY{uuid.uuid4().hex}"
    env_file = root / "canary" / ".env"
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text(f"PMX_CANARY_PASSWORD={canary}\n")
    password = env_file.read_text().split("=", 1)[1].strip()
    api = airflow_stack.api
    api.request("POST", "/connections", json={"connection_id": CONN_ID, "conn_type": "generic",
                                              "host": "broker.invalid", "login": "svc", "password": password})
    api.wait_for_dags([DAG_ID])
    api.set_paused(DAG_ID, False)
    conf = {"note": password, "note_token": password, "dsn": f"host=broker.invalid user=svc password={password}"}
    run_id = api.trigger(DAG_ID, conf=conf)
    run = api.wait_for_run(DAG_ID, run_id, timeout=300)
    api.set_paused(DAG_ID, True)
    events, listener = _wait_for_outputs(airflow_stack.layout.home, Path(airflow_stack.env["PMX_LOG_DIR"]), run_id)
    report = subprocess.run([sys.executable, "-m", "local_stack.performance_report", "--days", "1",
                             "--api-url", airflow_stack.layout.api_url], env=airflow_stack.env,
                            capture_output=True, text=True, timeout=300, check=False)
    return {"root": root, "canary": canary, "env_file": env_file, "run": run, "events": events,
            "listener": listener, "report": report}


def test_the_run_failed_with_the_canary_in_its_error(canary_run: dict[str, Any]) -> None:
    assert canary_run["run"]["state"] == "failed"
    facets = [e["run"]["facets"] for e in canary_run["events"]]
    errors = [f["errorMessage"]["message"] for f in facets if "errorMessage" in f]
    assert any("credential used: ***" in message for message in errors), errors


def test_the_listener_reports_the_failure_masked(canary_run: dict[str, Any]) -> None:
    failed = [e for e in canary_run["listener"] if e.get("event") == "task_failed"]
    assert failed, "no task_failed listener event for the run"
    assert {e["error"] for e in failed} == {"broker refused the login; credential used: ***"}


def test_the_lineage_events_carry_the_conf_keys_masked(canary_run: dict[str, Any]) -> None:
    confs = [f["airflow"]["dagRun"]["conf"] for e in canary_run["events"]
             for f in [e["run"]["facets"]] if "airflow" in f and "conf" in f["airflow"].get("dagRun", {})]
    assert confs, "no lineage event carries the run conf"
    for conf in confs:
        assert set(conf) == {"note", "note_token", "dsn"}
        assert conf["note"] == conf["note_token"] == "***"


def test_no_file_the_run_leaves_holds_the_canary(canary_run: dict[str, Any]) -> None:
    root, canary = canary_run["root"], canary_run["canary"]
    report = canary_run["report"]
    assert report.returncode == 0, report.stderr
    assert list(root.rglob("performance_report.html")), "the report of the run was not written under the root"
    leaks = _leaks(root, canary.encode(), canary_run["env_file"])
    assert leaks == {}, f"the canary leaked into {leaks}"
    assert canary.encode() in canary_run["env_file"].read_bytes()
