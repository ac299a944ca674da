"""The breaking-change rule of docs/dag_versioning.md: a task never disappears from an existing dag_id."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_stack.dag_manifest import (
    breaking_changes,
    folder_tasks,
    merged,
    next_version,
    read_manifest,
    unrecorded,
    write_manifest,
)

MANIFEST = {"daily_etl": {"tasks": ["etl.batch", "etl.plan"], "retired": False},
            "old_job": {"tasks": ["run"], "retired": True}}


def test_the_dag_folder_matches_the_committed_manifest() -> None:
    from local_stack.dag_folder import load_dags

    current = folder_tasks(load_dags())
    manifest = read_manifest()
    assert breaking_changes(manifest, current) == []
    assert unrecorded(manifest, current) == [], "run python -m local_stack.dag_manifest --write"


def test_adding_a_task_is_not_breaking_and_is_recorded() -> None:
    current = {"daily_etl": {"etl.batch", "etl.plan", "etl.report"}}
    assert breaking_changes(MANIFEST, current) == []
    assert unrecorded(MANIFEST, current) == ["daily_etl: new task(s) etl.report"]
    assert merged(MANIFEST, current)["daily_etl"]["tasks"] == ["etl.batch", "etl.plan", "etl.report"]


def test_removing_or_renaming_a_task_in_the_same_dag_id_is_breaking() -> None:
    current = {"daily_etl": {"etl.batch", "etl.plan_tickers"}}
    assert breaking_changes(MANIFEST, current) == [
        "daily_etl: task(s) etl.plan removed or renamed; that is a breaking change: keep them, or move the new "
        "structure to a new dag_id (e.g. daily_etl_v2)"]


def test_the_breaking_change_under_a_new_dag_id_passes_once_the_old_one_is_retired() -> None:
    current = {"daily_etl_v2": {"etl.batch", "etl.plan_tickers"}}
    assert breaking_changes(MANIFEST, current)[0].startswith("daily_etl: no longer in the DAG folder; mark it retired")
    retired = {**MANIFEST, "daily_etl": {**MANIFEST["daily_etl"], "retired": True}}
    assert breaking_changes(retired, current) == []
    assert unrecorded(retired, current) == ["daily_etl_v2: new DAG"]
    assert merged(retired, current)["daily_etl"]["tasks"] == ["etl.batch", "etl.plan"]  # history is kept


def test_a_retired_dag_id_is_never_reused() -> None:
    problems = breaking_changes(MANIFEST, {"daily_etl": {"etl.batch", "etl.plan"}, "old_job": {"run"}})
    assert problems == ["old_job: retired in the manifest but back in the DAG folder; a retired dag_id is never "
                        "reused (give the DAG a new one)"]


@pytest.mark.parametrize(("dag_id", "expected"), [("daily_etl", "daily_etl_v2"), ("daily_etl_v2", "daily_etl_v3"),
                                                  ("etl_vx", "etl_vx_v2")])
def test_next_version(dag_id: str, expected: str) -> None:
    assert next_version(dag_id) == expected


def test_write_and_read_round_trip(tmp_path: Path) -> None:
    file = tmp_path / "m.json"
    write_manifest(MANIFEST, file)
    assert read_manifest(file) == MANIFEST
    file.write_text('{"x": []}')
    with pytest.raises(ValueError, match="expected"):
        read_manifest(file)
