"""docs/dag_reference.md's generated sections match the DAGs (``python -m local_stack.dag_reference``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest

from alerts.sla_config import SlaSpec
from foundation.paths import REPO_ROOT
from lineage.jobs import JOBS
from local_stack import dag_reference
from local_stack.dag_facts import DagFacts, RetryPolicy, TaskFacts, collect
from local_stack.dag_folder import load_dags

SLAS_DOC = REPO_ROOT / "docs" / "slas.md"


@pytest.fixture(scope="module")
def facts() -> list[DagFacts]:
    return collect(load_dags())


def test_generated_sections_are_up_to_date(facts: list[DagFacts]) -> None:
    current = dag_reference.TARGET.read_text(encoding="utf-8")
    assert dag_reference.update(current, facts) == current, f"run: {dag_reference.COMMAND}"


def test_the_command_checks_the_file_and_its_output_is_deterministic() -> None:
    """``--check`` from a fresh interpreter with another string-hash seed: set iteration order changes nothing."""
    env = {**os.environ, "PYTHONHASHSEED": "4242", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "local_stack.dag_reference", "--check"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_every_dag_and_task_is_documented(facts: list[DagFacts]) -> None:
    text = dag_reference.TARGET.read_text(encoding="utf-8")
    assert len(facts) == 12
    for dag in facts:
        assert f"### `{dag.dag_id}`" in text
        for task in dag.tasks:
            assert task.job is None or task.job in JOBS, f"{dag.dag_id}.{task.task_id}: {task.job} not in JOBS"
    writers = {task.task_id for dag in facts for task in dag.tasks if task.writes}
    assert {"etl.batch", "etl.retry_failed", "trading.trade", "trading.snapshot"} <= writers


def test_every_sla_has_a_runbook_anchor_in_the_slas_doc(facts: list[DagFacts]) -> None:
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', SLAS_DOC.read_text(encoding="utf-8")))
    specs = [spec for dag in facts for spec in dag.slas]
    assert specs, "no SLA found for any DAG"
    for spec in specs:
        assert spec.runbook.startswith("#") and spec.runbook[1:] in anchors, f"{spec.name}: {spec.runbook}"


def _dag(**changes: object) -> DagFacts:
    task = TaskFacts(task_id="work", operator="@task", mapped=True, pool="api_pool", queue="default",
                     retry=RetryPolicy(3, timedelta(seconds=60), 2.0, timedelta(seconds=900)), job="tasks.x",
                     reads=("db/ohlcv",), writes=("staging",), assets=("portfolio_ohlcv",))
    base = {"dag_id": "demo", "description": "A demo.", "cron": "0 5 * * 1-5", "timezone": "America/New_York",
            "triggering_assets": (), "owner": "team", "tags": ("a", "b"), "max_active_runs": 1, "catchup": False,
            "tasks": (task,), "deadline_alerts": ("demo_sla (every run)",),
            "slas": (SlaSpec(name="demo_sla", dag_id="demo", reference="queued", interval="5m",
                             runbook="#demo_sla", description="Done in five minutes."),)}
    return DagFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_a_dag_section_names_everything_the_reference_promises() -> None:
    text = dag_reference.render_dag(_dag())
    assert "- **Schedule:** `0 5 * * 1-5` (America/New_York)" in text
    assert "**tags:** `a`, `b`" in text and "`team`" in text
    assert "queued + 5m, every run. Done in five minutes. [runbook](slas.md#demo_sla)" in text
    assert ("| `work` (mapped) | `@task` | `api_pool` | `default` | 3 | 1m, x2 per try up to 15m | `db/ohlcv` | "
            "`staging`, Asset `portfolio_ohlcv` |") in text


def test_deadlines_in_words() -> None:
    at = SlaSpec(name="s", dag_id="d", reference="time_of_day", at="06:00", manual_interval="45m", runbook="#s",
                 offset=timedelta(minutes=45))
    assert dag_reference.deadline(at, "America/New_York") == (
        "done by 06:00 (America/New_York), 45m after the scheduled time; runs without a schedule slot: queued + 45m")
    slot = SlaSpec(name="s", dag_id="d", reference="scheduled", interval="2h", runbook="#s")
    assert dag_reference.deadline(slot, None) == "scheduled time + 2h; runs without a schedule slot: queued + 2h"
    mean = SlaSpec(name="s", dag_id="d", reference="average_runtime", interval="30m", runbook="#s")
    assert "mean duration of the last 10 successful runs + 30m (from 3 successful runs on)" in (
        dag_reference.deadline(mean, None))


def test_only_the_generated_sections_change() -> None:
    document = ("# Title\nhand-written\n"
                "<!-- BEGIN GENERATED pools (x) -->\nold pools\n<!-- END GENERATED pools -->\nmiddle\n"
                "<!-- BEGIN GENERATED dags (x) -->\nold dags\n<!-- END GENERATED dags -->\ntail\n")
    updated = dag_reference.update(document, [_dag()])
    assert updated.startswith("# Title\nhand-written\n<!-- BEGIN GENERATED pools (x) -->\n\n| pool |")
    assert "old" not in updated and "\nmiddle\n" in updated and updated.endswith("<!-- END GENERATED dags -->\ntail\n")
    assert "`work`" in updated.split("middle")[0], "the pools table lists the tasks that use each pool"
    assert dag_reference.update(updated, [_dag()]) == updated


def test_a_missing_section_is_named() -> None:
    with pytest.raises(dag_reference.SectionError, match=r"generated section 'dags'.*BEGIN GENERATED dags"):
        dag_reference.update("<!-- BEGIN GENERATED pools (x) -->\n<!-- END GENERATED pools -->\n", [_dag()])
