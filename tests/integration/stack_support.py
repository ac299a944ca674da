"""What every integration stack shares: the test copy of ``config/`` and the DAG bundles (project + test DAGs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from portfolio.paths import REPO_ROOT

TEST_DAGS = Path(__file__).parent / "dags"


def copy_test_config(target: Path) -> Path:
    """A copy of ``config/`` with retry delays of one second; ``market_hours`` stays as shipped (production values)."""
    shutil.copytree(REPO_ROOT / "config", target)
    orch_file = target / "orchestration.yml"
    orch = yaml.safe_load(orch_file.read_text())
    for spec in orch["retries"].values():
        spec["delay_seconds"] = 1 if spec["retries"] else 0
        spec.pop("max_delay_seconds", None)
    orch_file.write_text(yaml.safe_dump(orch, sort_keys=False))
    return target


def dag_bundles() -> str:
    """``[dag_processor] dag_bundle_config_list``: the project's DAG folder and the test DAGs."""
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    return json.dumps([{"name": "dags-folder", "classpath": local, "kwargs": {"path": str(REPO_ROOT / "dags")}},
                       {"name": "test-dags", "classpath": local, "kwargs": {"path": str(TEST_DAGS)}}])
