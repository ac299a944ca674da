"""The listener plugin under ``dag.test()`` with a deliberately invalid ``pipeline.yml``: every event still lands.

``env_sanity`` runs in-process with ``broker.max_position_fraction: 1.5``: the domain checks fail loudly (file,
key and value), the halt task fails, and the listener writes the running, success, failed, DAG-run and
lifecycle events of every hook that fired, as it does with a healthy config. ``auto_trader`` (run first): its
market gate raises the ``ConfigError`` itself, and the listener reports it as a ``config_invalid`` event.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT
from foundation.pipeline_logger import read_events

pytestmark = pytest.mark.integration


def test_every_fired_hook_writes_its_event(airflow_metadata: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.support import reset_caches

    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    pipeline = config / "pipeline.yml"
    text = pipeline.read_text()
    assert "  max_position_fraction: 0.10\n" in text
    pipeline.write_text(text.replace("  max_position_fraction: 0.10\n", "  max_position_fraction: 1.5\n"))
    home = tmp_path / "home"
    monkeypatch.setattr(os, "environ", os.environ.copy())  # tasks export their run-time inputs
    for key, value in {"PMX_CONFIG_DIR": config, "PMX_HOME": home, "PMX_LOG_DIR": home / "logs",
                       "PORTFOLIO_DB_PATH": home / "data" / "portfolio_maximizer.db"}.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.delenv("PMX_LISTENER_ENABLED", raising=False)
    reset_caches()
    runs = {}
    try:
        # auto_trader first: the failed env_sanity records a trading halt that would short-circuit it
        for folder, dag_id in (("trading", "auto_trader"), ("monitoring", "env_sanity")):
            dag = DagBag(dag_folder=str(REPO_ROOT / "dags" / folder / f"{dag_id}.py")).get_dag(dag_id)
            dag.deadline = None  # as in test_dag_runs: dag.test() of 3.3.2 cannot finish a run with deadlines
            runs[dag_id] = dag.test(run_conf={"execution_mode": "synthetic"})
    finally:
        reset_caches()
    run = runs["env_sanity"]

    states = {ti.task_id: ti.state for ti in run.get_task_instances() if ti.dag_id == "env_sanity"}
    assert run.state == "failed" and states["env_sanity.halt_trading"] == "failed", states
    logs = home / "logs" / "pipeline"
    listener = [e for s in ("pipeline", "events") for e in read_events(logs, s)  # type: ignore[arg-type]
                if e.get("component") == "listener"]
    seen = Counter((e["event"], e.get("task_id")) for e in listener if e.get("dag_id") == "env_sanity")
    ran = [t for t, s in states.items() if s in ("success", "failed")]
    for task_id in ran:
        assert seen[("task_running", task_id)] == 1, (task_id, seen)
        assert seen[(f"task_{states[task_id]}", task_id)] == 1, (task_id, seen)
    assert seen[("dag_run_failed", None)] == 1, seen
    stops = [e for e in listener if e["event"] == "component_stopping"]
    assert len(stops) >= len(ran), stops
    assert not [e for e in listener if e["event"] == "observability_failure"]
    checks = next(e for e in read_events(logs, "pipeline") if e["event"] == "entrypoint_finish")["summary"]
    assert "broker.max_position_fraction = 1.5" in checks["checks"]["config"]["reason"]

    trading = [e for e in listener if e.get("dag_id") == "auto_trader"]
    (invalid,) = [e for e in trading if e["event"] == "config_invalid"]
    assert (invalid["file"], invalid["key"], invalid["value"]) == (str(pipeline), "broker.max_position_fraction", "1.5")
    assert [e["event"] for e in trading].count("dag_run_failed") == 1
    failed = [e for e in trading if e["event"] == "task_failed"]
    assert [e["task_id"] for e in failed] == [invalid["task_id"]] and failed[0]["error_type"] == "ConfigError"
