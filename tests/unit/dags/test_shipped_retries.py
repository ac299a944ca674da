"""The shipped retry policy (``config/orchestration.yml`` ``retries:``) is what the scheduler applies.

The expected values come from the YAML file itself (not from ``retry_args``); which task has which task type is
written out here on purpose. The delays are Airflow's own computation: ``TaskInstance.next_retry_datetime`` (the
scheduler's ``NotInRetryPeriodDep`` asks it) on the DAGs after a serialization round trip, as the scheduler
holds them. Airflow's exponential backoff is ``delay * 2**(try-1)`` plus a deterministic jitter of up to the
same amount (``[base, 2*base)``), capped at ``max_retry_delay``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from foundation.paths import REPO_ROOT
from orchestration.dag_defaults import BACKOFF_MULTIPLIER

SHIPPED = yaml.safe_load((REPO_ROOT / "config" / "orchestration.yml").read_text())["retries"]
# task id (group-qualified, else its last part) -> task type; every other task carries the DAG default ("control")
TASK_TYPE = {
    "batch": "etl_batch",
    "etl.retry_failed": "etl_retry",
    "trade": "trading",
    "trading.retry_failed": "trading",   # a ticker that failed in its trade batch, retried alone
    "forecaster_monitor": "monitoring",
    "pipeline_health": "monitoring",
    "database_integrity": "monitoring",
    "data_source_availability": "monitoring",
    "quant_health": "monitoring",
    "performance_snapshot": "monitoring",
    "performance_report": "monitoring",   # portfolio_master's last task, after trading and monitoring
    "backfill_signal_validation": "maintenance",
    "generate_synthetic_dataset": "maintenance",
    "sweep_ts_thresholds": "maintenance",
    "estimate_transaction_costs": "maintenance",
    "run_strategy_optimization": "maintenance",
    "weekly_sleeve_maintenance": "maintenance",
    "sanitize_cache_and_logs": "maintenance",
}
END = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def serialized_dags(airflow_metadata: Path) -> dict[str, Any]:
    """Every DAG of ``dags/`` as the scheduler holds it (serialized and deserialized)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    return {dag_id: DagSerialization.from_dict(DagSerialization.to_dict(dag)) for dag_id, dag in bag.dags.items()}


def _task_type(task_id: str) -> str:
    return TASK_TYPE.get(task_id) or TASK_TYPE.get(task_id.rsplit(".", 1)[-1], "control")


def _tasks(serialized_dags: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(dag_id, task) for dag_id, dag in sorted(serialized_dags.items()) for task in dag.tasks]


def test_every_task_type_of_the_shipped_config_is_used(serialized_dags: dict[str, Any]) -> None:
    used = {_task_type(task.task_id) for _, task in _tasks(serialized_dags)}
    assert used == set(SHIPPED)
    assert set(TASK_TYPE.values()) | {"control"} == set(SHIPPED)


def test_every_task_carries_the_shipped_retry_policy_of_its_type(serialized_dags: dict[str, Any]) -> None:
    wrong = []
    for dag_id, task in _tasks(serialized_dags):
        spec = SHIPPED[_task_type(task.task_id)]
        backoff = "max_delay_seconds" in spec
        expected = (spec["retries"], timedelta(seconds=spec["delay_seconds"]),
                    BACKOFF_MULTIPLIER if backoff else 0,
                    timedelta(seconds=spec["max_delay_seconds"]) if backoff else None)
        actual = (task.retries, task.retry_delay, float(task.retry_exponential_backoff or 0), task.max_retry_delay)
        if actual != expected:
            wrong.append((dag_id, task.task_id, actual, expected))
    assert wrong == []


def _airflow_delay(task: Any, try_number: int) -> timedelta:
    """The delay Airflow's ``TaskInstance.next_retry_datetime`` gives after try ``try_number`` failed."""
    from airflow.models.taskinstance import TaskInstance

    ti = TaskInstance(task=task, dag_version_id=None, run_id="scheduled__2026-12-03T10:15:00+00:00")
    ti.try_number = try_number
    ti.end_date = END
    return ti.next_retry_datetime() - END


def _one_task_per_type(serialized_dags: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _, task in _tasks(serialized_dags):
        out.setdefault(_task_type(task.task_id), task)
    return out


@pytest.mark.parametrize("task_type", sorted(t for t, s in SHIPPED.items() if s["retries"]))
def test_airflow_computes_the_shipped_delays_try_by_try(serialized_dags: dict[str, Any], task_type: str) -> None:
    spec = SHIPPED[task_type]
    task = _one_task_per_type(serialized_dags)[task_type]
    delay, cap = spec["delay_seconds"], spec.get("max_delay_seconds")
    # the configured tries, and more: a cleared task keeps counting tries, which is where the cap matters
    last = spec["retries"] + (math.ceil(math.log2(cap / delay)) + 2 if cap else 0)
    for try_number in range(1, last + 1):
        got = _airflow_delay(task, try_number).total_seconds()
        if cap is None:
            assert got == delay, (task_type, try_number)
            continue
        base = delay * BACKOFF_MULTIPLIER ** (try_number - 1)
        if base >= cap:
            assert got == cap, (task_type, try_number)
        else:
            assert base <= got < min(2 * base, cap + 1), (task_type, try_number, got)
    if cap:
        assert _airflow_delay(task, last).total_seconds() == cap  # the cap is reached and holds


def test_the_shipped_backoff_grows_before_the_cap(serialized_dags: dict[str, Any]) -> None:
    for task_type, spec in SHIPPED.items():
        if not spec.get("max_delay_seconds") or spec["retries"] < 2:
            continue
        task = _one_task_per_type(serialized_dags)[task_type]
        delays = [_airflow_delay(task, n).total_seconds() for n in range(1, spec["retries"] + 1)]
        assert delays == sorted(delays) and delays[-1] > delays[0], (task_type, delays)


def test_the_integration_stack_copy_shrinks_delays_but_keeps_backoff_on(
    tmp_path: Path, pmx_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.dag_defaults import retry_args
    from tests.integration.stack_support import TEST_MAX_RETRY_DELAY_SECONDS, copy_test_config
    from tests.support import reset_caches

    monkeypatch.setenv("PMX_CONFIG_DIR", str(copy_test_config(tmp_path / "config")))
    reset_caches()
    for task_type, spec in SHIPPED.items():
        args = retry_args(task_type)
        assert args["retries"] == spec["retries"]
        assert args["retry_delay"] <= timedelta(seconds=1)
        if "max_delay_seconds" in spec:  # the real backoff code path runs under the test stack too
            assert args["retry_exponential_backoff"] == BACKOFF_MULTIPLIER, task_type
            assert args["max_retry_delay"] == timedelta(seconds=TEST_MAX_RETRY_DELAY_SECONDS)
        else:
            assert "retry_exponential_backoff" not in args, task_type
