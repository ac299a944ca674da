"""What every integration stack shares: the test copy of ``config/`` and the DAG bundles (project + test DAGs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from foundation.paths import REPO_ROOT

TEST_DAGS = Path(__file__).parent / "dags"


TEST_RETRY_DELAY_SECONDS = 1
TEST_MAX_RETRY_DELAY_SECONDS = 4  # shrunk, but kept: without max_delay_seconds the backoff would be off


def shrink_retries(retries: dict[str, dict]) -> dict[str, dict]:
    """Retry delays of one second; a task type with exponential backoff keeps it, capped at a few seconds."""
    out = {}
    for task_type, spec in retries.items():
        shrunk = {**spec, "delay_seconds": TEST_RETRY_DELAY_SECONDS if spec["retries"] else 0}
        if "max_delay_seconds" in spec:
            shrunk["max_delay_seconds"] = TEST_MAX_RETRY_DELAY_SECONDS
        out[task_type] = shrunk
    return out


def copy_test_config(target: Path, *, backtest: bool = True) -> Path:
    """A copy of ``config/`` with short retry delays (backoff still on); ``market_hours`` stays as shipped.

    ``backtest=False``: the performance report does not replay the models (``backtest_origins: 0``), for stacks
    whose report is not what they test; the session stack keeps the shipped replay (``test_dag_set`` checks it).
    """
    shutil.copytree(REPO_ROOT / "config", target)
    orch_file = target / "orchestration.yml"
    orch = yaml.safe_load(orch_file.read_text())
    orch["retries"] = shrink_retries(orch["retries"])
    orch_file.write_text(yaml.safe_dump(orch, sort_keys=False))
    if not backtest:
        pipeline_file = target / "pipeline.yml"
        pipeline = yaml.safe_load(pipeline_file.read_text())
        pipeline["performance_report"]["backtest_origins"] = 0
        pipeline_file.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    return target


def dag_bundles() -> str:
    """``[dag_processor] dag_bundle_config_list``: the project's DAG folder and the test DAGs."""
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    return json.dumps([{"name": "dags-folder", "classpath": local, "kwargs": {"path": str(REPO_ROOT / "dags")}},
                       {"name": "test-dags", "classpath": local, "kwargs": {"path": str(TEST_DAGS)}}])
