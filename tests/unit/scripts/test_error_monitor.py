"""scripts/error_monitor.py: history from the JSON event log, live threshold state, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from foundation.paths import REPO_ROOT
from foundation.pipeline_logger import get_logger
from listeners.config import load_observability
from listeners.error_monitor import ThresholdStore
from scripts import error_monitor

NOW = datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _task(ago_h: float, dag: str, task: str, state: str, error_type: str | None = None) -> dict[str, Any]:
    level = {"failed": "error", "up_for_retry": "warning"}.get(state, "info")
    return {"ts": _iso(NOW - timedelta(hours=ago_h)), "event": f"task_{state}", "level": level,
            "component": "listener", "stream": "pipeline", "dag_id": dag, "task_id": task, "run_id": "r",
            "state": state, "error_type": error_type}


@pytest.fixture
def history(pmx_home: Path) -> Path:
    """Two days of listener events (plus one domain error) in the pipeline log, and some threshold state."""
    records = [
        _task(1, "daily_etl", "extract", "failed", "ConnectionError"),
        _task(2, "daily_etl", "extract", "up_for_retry", "TimeoutError"),
        _task(3, "daily_etl", "extract", "success"),
        _task(3, "daily_etl", "load", "failed", "IntegrityError"),
        _task(5, "auto_trader", "trade", "failed", "ConnectionError"),
        _task(30, "daily_etl", "extract", "failed", "OldError"),  # outside the last 24 hours
        {"ts": _iso(NOW - timedelta(hours=2)), "event": "dag_run_failed", "level": "error",
         "component": "listener", "stream": "pipeline", "dag_id": "daily_etl", "run_id": "r",
         "state": "failed"},
        {"ts": _iso(NOW - timedelta(hours=2)), "event": "dag_import_error", "level": "error",
         "component": "listener", "stream": "events", "filename": "/dags/x.py", "error_type": "SyntaxError"},
        {"ts": _iso(NOW - timedelta(hours=1)), "event": "alert", "level": "error", "component": "listener",
         "stream": "events", "rule": "dag_failures", "key": "daily_etl", "status": "firing",
         "severity": "error", "summary": "DAG daily_etl: 3 failed tasks", "routed": True,
         "dag_id": "daily_etl"},
        {"ts": _iso(NOW - timedelta(hours=1)), "event": "observability_failure", "level": "warning",
         "component": "listener", "stream": "events", "component_failed": "listener",
         "reason": "event_write"},
    ]
    log = get_logger()
    for record in records:
        log.write_line((json.dumps(record) + "\n").encode(), record["stream"])
        if record["level"] == "error":
            log.write_line((json.dumps(record) + "\n").encode(), "errors")
    get_logger("etl").error("entrypoint_failed", entrypoint="run_etl_pipeline", error_type="ValueError")
    store = ThresholdStore(load_observability().error_monitor)
    for i in range(3):
        store.record("dag_failures", "daily_etl", f"u{i}", dag_id="daily_etl")
    store.dag_run_finished("daily_etl", "r1", failed=True)
    store.close()
    return pmx_home


def test_counts_per_dag_task_and_error_type_over_the_last_day(history: Path) -> None:
    report = error_monitor.run()
    h = report["history"]
    assert h["by_dag"] == {"daily_etl": {"failed": 2, "up_for_retry": 1, "success": 1, "runs_failed": 1},
                           "auto_trader": {"failed": 1}}
    assert h["by_task"] == {"daily_etl.extract": {"failed": 1, "up_for_retry": 1, "success": 1},
                            "auto_trader.trade": {"failed": 1}, "daily_etl.load": {"failed": 1}}
    assert h["by_error_type"] == {"ConnectionError": 2, "TimeoutError": 1, "IntegrityError": 1,
                                  "SyntaxError": 1, "ValueError": 1}  # domain error events count too
    assert h["import_errors"] == {"/dags/x.py": 1}
    assert h["observability_failures"] == {"listener:event_write": 1}
    assert [a["rule"] for a in h["alerts"]] == ["dag_failures"]


def test_the_period_and_dag_filters(history: Path) -> None:
    since = _iso(NOW - timedelta(hours=48))
    report = error_monitor.run(since=since, dag_id="daily_etl")
    assert report["history"]["by_dag"] == {"daily_etl": {"failed": 3, "up_for_retry": 1, "success": 1,
                                                         "runs_failed": 1}}
    assert "OldError" in report["history"]["by_error_type"]
    assert error_monitor.run(hours=1.5)["history"]["by_error_type"] == {"ConnectionError": 1, "ValueError": 1}


def test_the_live_threshold_state_is_shown(history: Path) -> None:
    state = error_monitor.run(dag_id="daily_etl")["state"]
    assert state["windows"] == [{"rule": "dag_failures", "key": "daily_etl", "count": 3, "threshold": 3,
                                 "window_minutes": 60.0}]
    assert state["streaks"] == [{"dag_id": "daily_etl", "failed_in_a_row": 1, "last_run_id": "r1"}]
    assert state["open_alerts"] == 1 and state["alerts"][0]["rule"] == "dag_failures"


def test_an_empty_home_gives_an_empty_report(pmx_home: Path) -> None:
    report = error_monitor.run(hours=2)
    assert report["history"]["events"] == 0 and report["state"]["alerts"] == []


def _cli(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "PMX_HOME": str(env_home), "PMX_LOG_DIR": str(env_home / "logs")}
    return subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "error_monitor.py"), *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False, cwd=REPO_ROOT)


def test_cli_prints_the_report_as_json(history: Path) -> None:
    proc = _cli("--hours", "24", "--dag-id", "auto_trader", env_home=history)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["history"]["by_dag"] == {"auto_trader": {"failed": 1}}


def test_cli_help(pmx_home: Path) -> None:
    proc = _cli("--help", env_home=pmx_home)
    assert proc.returncode == 0 and "--since" in proc.stdout and "--hours" in proc.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--hours", "-2"], "argument --hours: '-2' must be > 0"),
    (["--hours", "soon"], "argument --hours: invalid number 'soon'"),
    (["--since", "2026-13-40"], "argument --since: invalid --since '2026-13-40'"),
    (["--since", "2026-01-01", "--hours", "3"], "not allowed with argument"),
    (["--top", "0"], "argument --top"),
], ids=["negative-hours", "word-hours", "bad-date", "both-periods", "zero-top"])
def test_bad_arguments_exit_2_with_one_line(pmx_home: Path, args: list[str], message: str) -> None:
    proc = _cli(*args, env_home=pmx_home)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
