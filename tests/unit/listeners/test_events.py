"""Event records: what is read from task instances and DAG runs, how it is formatted, resource accounting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from listeners.events import (
    ResourceUsage,
    dag_run_record,
    error_fields,
    finalize,
    task_record,
    task_state,
    traceback_error_type,
    utc_iso,
)
from listeners.schema import schema_errors
from tests.unit.listeners._support import fake_run, fake_ti


class LazyRelationship:
    """An ORM-like task instance whose ``dag_run`` would query the database if touched."""

    dag_id, task_id, run_id, map_index, try_number, max_tries = "d", "t", "r", -1, 1, 0
    state, start_date, end_date, duration = "failed", None, None, 4.5

    @property
    def dag_run(self) -> None:
        raise AssertionError("the hook must not lazy-load relationships")


@pytest.mark.parametrize(("hook_state", "ti_state", "expected"), [
    ("failed", "up_for_retry", "up_for_retry"), ("failed", "failed", "failed"), ("failed", None, "failed"),
    ("success", "success", "success"), ("skipped", "skipped", "skipped"),
], ids=["retry", "final", "unknown-state", "success", "skipped"])
def test_the_failed_hook_tells_retries_from_final_failures(hook_state: str, ti_state: str | None,
                                                           expected: str) -> None:
    assert task_state(hook_state, SimpleNamespace(state=ti_state)) == expected


def test_task_record_reads_a_runtime_task_instance() -> None:
    raw = task_record("on_task_instance_success", "success", fake_ti(seconds=2.5), "running")
    record = finalize(raw, 100)
    assert record["event"] == "task_success" and record["duration_s"] == 2.5
    assert record["start_date"] == "2026-03-02T14:30:00.000000Z"
    assert record["end_date"] == "2026-03-02T14:30:02.500000Z"
    assert record["run_type"] == "manual" and record["previous_state"] == "running"
    assert record["map_index"] == -1 and record["max_tries"] == 1
    assert schema_errors(record) == []


def test_a_skip_without_end_date_ends_at_the_hook() -> None:
    before = datetime.now(UTC)
    record = task_record("on_task_instance_skipped", "skipped", fake_ti(end=False), "running")
    assert record["end_date"] >= before and record["duration_s"] > 0


def test_running_records_have_no_end_nor_duration() -> None:
    record = finalize(task_record("on_task_instance_running", "running", fake_ti(), "queued"), 100)
    assert (record["end_date"], record["duration_s"], record["error"]) == (None, None, None)
    assert schema_errors(record) == []


def test_orm_task_instances_keep_their_duration_and_relationships_stay_unloaded() -> None:
    record = task_record("on_task_instance_failed", "failed", LazyRelationship(), "running", "killed")
    assert record["duration_s"] == 4.5 and record["run_type"] is None
    finalize(record, 100)
    assert (record["error_type"], record["error"]) == (None, "killed")


def test_dag_run_record() -> None:
    raw = dag_run_record("on_dag_run_failed", "failed", fake_run("failed", seconds=12), "task_failure")
    record = finalize(raw, 100)
    assert (record["event"], record["level"], record["duration_s"], record["msg"]) == (
        "dag_run_failed", "error", 12.0, "task_failure")
    assert (record["queued_at"], record["start_date"]) == ("2026-03-02T14:29:59.750000Z", "2026-03-02T14:30:00.000000Z")
    assert schema_errors(record) == []


@pytest.mark.parametrize(("error", "expected"), [
    (ValueError("bad rows"), ("ValueError", "bad rows")),
    (KeyError(), ("KeyError", "KeyError")),
    ("Executor reported the task as failed", (None, "Executor reported the task as failed")),
    (None, (None, None)),
], ids=["exception", "empty-message", "scheduler-string", "none"])
def test_error_fields(error: object, expected: tuple[str | None, str | None]) -> None:
    fields = error_fields(error, 100)
    assert (fields["error_type"], fields["error"]) == expected


@pytest.mark.parametrize(("trace", "expected"), [
    ("Traceback (most recent call last):\n  File x\nModuleNotFoundError: No module named 'y'\n",
     "ModuleNotFoundError"),
    ("Traceback...\nairflow.exceptions.AirflowException: cycle detected", "AirflowException"),
    ("something odd happened", None), ("", None),
], ids=["module-not-found", "dotted", "free-text", "empty"])
def test_traceback_error_type(trace: str, expected: str | None) -> None:
    assert traceback_error_type(trace) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=-5))), "2026-03-02T14:30:00.000000Z"),
    (datetime(2026, 3, 2, 14, 30, 0, 42), "2026-03-02T14:30:00.000042Z"),
], ids=["new-york", "naive-is-utc"])
def test_utc_iso(value: datetime, expected: str) -> None:
    assert utc_iso(value) == expected


def test_resource_usage_in_a_task_runner_counts_the_whole_process() -> None:
    usage = ResourceUsage()
    usage.whole_process = True
    out = usage.finish(("d", "t", "r", -1, 1))
    assert 0 < out["cpu_s"] <= ResourceUsage.cpu_seconds()
    assert out["peak_rss_bytes"] > 10_000_000


def test_resource_usage_in_a_shared_process_is_a_delta_since_running() -> None:
    usage = ResourceUsage()
    key = ("d", "t", "r", -1, 1)
    usage.start(key)
    sum(i * i for i in range(300_000))  # burn a little CPU
    out = usage.finish(key)
    assert 0 < out["cpu_s"] < ResourceUsage.cpu_seconds()
    assert usage.finish(key) == {"cpu_s": None, "peak_rss_bytes": None}  # no running hook seen: unknown
