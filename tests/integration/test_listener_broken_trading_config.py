"""The listener plugin under ``dag.test()`` with a deliberately invalid ``pipeline.yml``: every event still lands.

``env_sanity`` runs in-process with ``broker.max_position_fraction: 1.5``: the domain checks fail loudly (file,
key and value), the halt task fails, and the listener writes the running, success, failed, DAG-run and
lifecycle events of every hook that fired, as it does with a healthy config.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from portfolio.paths import REPO_ROOT
from portfolio.pipeline_logger import read_events

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
    try:
        dag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "monitoring" / "env_sanity.py")).get_dag("env_sanity")
        dag.deadline = None  # as in test_dag_runs: dag.test() of 3.3.2 cannot finish a run with deadlines
        run = dag.test(run_conf={"execution_mode": "synthetic"})
    finally:
        reset_caches()

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "failed" and states["env_sanity.halt_trading"] == "failed", states
    logs = home / "logs" / "pipeline"
    listener = [e for s in ("pipeline", "events") for e in read_events(logs, s)  # type: ignore[arg-type]
                if e.get("component") == "listener"]
    seen = Counter((e["event"], e.get("task_id")) for e in listener)
    ran = [t for t, s in states.items() if s in ("success", "failed")]
    for task_id in ran:
        assert seen[("task_running", task_id)] == 1, (task_id, seen)
        assert seen[(f"task_{states[task_id]}", task_id)] == 1, (task_id, seen)
    assert seen[("dag_run_failed", None)] == 1, seen
    assert seen[("component_stopping", None)] >= len(ran), seen
    assert not [e for e in listener if e["event"] == "observability_failure"]
    checks = next(e for e in read_events(logs, "pipeline") if e["event"] == "entrypoint_finish")["summary"]
    assert "broker.max_position_fraction = 1.5" in checks["checks"]["config"]["reason"]
