"""The DAG folder loads cleanly and matches the seed's cron table (the table is written out here on purpose)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT

DAGS_DIR = REPO_ROOT / "dags"
NEW_YORK = "America/New_York"
EXPECTED_SCHEDULES = {
    "daily_etl": "15 5 * * 1-5",
    "auto_trader": "*/30 7-20 * * 1-5",
    "auto_trader_core": "0 7-20 * * 1-5",
    "monitoring": "5 * * * *",
    "env_sanity": "0 5 * * 1-5",
    "nightly_backfill": "5 2 * * *",
    "ts_threshold_sweep": "0 4 * * 1",
    "transaction_costs": "15 4 1 * *",
    "weekly_sleeve_maintenance": "0 5 * * 1",
    "synthetic_refresh": "0 1 * * 1",
    "sanitize_caches": "30 3 * * *",
    "portfolio_master": "0 5 * * 1-5",
}
HEAVY_MODULES = ("pandas", "statsmodels", "arch", "plotly", "exchange_calendars", "portfolio.database_manager",
                 "portfolio.data_sources")


@pytest.fixture(scope="module")
def dagbag(airflow_metadata: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def _cron_and_tz(timetable) -> tuple[str, str]:
    inner = getattr(timetable, "timetable", timetable)  # AssetOrTimeSchedule wraps a cron timetable
    return inner.expression, str(getattr(inner.timezone, "name", inner.timezone))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == sorted(EXPECTED_SCHEDULES)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_SCHEDULES))
def test_schedule_timezone_and_defaults(dagbag, dag_id: str) -> None:
    dag = dagbag.get_dag(dag_id)
    assert _cron_and_tz(dag.timetable) == (EXPECTED_SCHEDULES[dag_id], NEW_YORK)
    assert dag.catchup is False
    assert "portfolio" in dag.tags and len(dag.tags) >= 2
    assert dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.owner == "portfolio-team", task.task_id
        assert task.on_failure_callback, f"{task.task_id} has no dead-letter callback"


def test_retries_follow_task_types(dagbag) -> None:
    etl = dagbag.get_dag("daily_etl")
    assert etl.get_task("etl.batch").retries == 1, "a ticker's failure never fails its batch; a crash is retried"
    retry = etl.get_task("etl.retry_failed")
    assert retry.retries == 3, "a failed ticker is retried with backoff"
    assert retry.retry_exponential_backoff == 2.0
    assert dagbag.get_dag("auto_trader").get_task("trading.trade").retries == 1


def test_etl_maps_over_batches_then_retries_only_failed_tickers(dagbag) -> None:
    etl = dagbag.get_dag("daily_etl")
    assert set(etl.task_ids) == {"etl.plan", "etl.batch", "etl.failed_tickers", "etl.retry_failed"}
    assert etl.get_task("etl.batch").upstream_task_ids == {"etl.plan"}
    assert etl.get_task("etl.failed_tickers").upstream_task_ids == {"etl.plan", "etl.batch"}
    # a crashed batch is still retried; a failed plan fails the run once (upstream_failed, not a second failure)
    assert etl.get_task("etl.failed_tickers").trigger_rule == "all_done_min_one_success"
    assert etl.get_task("etl.retry_failed").upstream_task_ids == {"etl.failed_tickers"}


def test_mapped_tasks_use_pools_and_limits(dagbag) -> None:
    etl = dagbag.get_dag("daily_etl")
    pools = {t.task_id: t.pool for t in etl.tasks}
    assert pools["etl.batch"] == pools["etl.retry_failed"] == "api_pool"
    assert dagbag.get_dag("auto_trader").get_task("trading.trade").pool == "trading_pool"
    assert dagbag.get_dag("nightly_backfill").get_task("backfill_signal_validation").pool == "database_pool"
    assert etl.get_task("etl.batch").max_active_tis_per_dag == 4
    assert etl.get_task("etl.retry_failed").max_active_tis_per_dag == 4


def test_auto_trader_is_data_aware(dagbag) -> None:
    timetable = dagbag.get_dag("auto_trader").timetable
    assert [a.name for a in timetable.asset_condition.objects] == ["portfolio_ohlcv"]
    etl = dagbag.get_dag("daily_etl")
    for task_id in ("etl.batch", "etl.retry_failed"):  # the tasks that write
        assert [a.name for a in etl.get_task(task_id).outlets] == ["portfolio_ohlcv", "portfolio_forecasts"]


def test_master_dag_shape(dagbag) -> None:
    dag = dagbag.get_dag("portfolio_master")
    assert dag.get_task("etl.plan").upstream_task_ids == {"env_sanity.environment_ok"}
    ends = {"etl.failed_tickers", "etl.retry_failed"}
    assert dag.get_task("trading.trading_allowed").upstream_task_ids == ends
    # all_done: retry_failed is skipped when no ticker failed; a failed environment gate halts trading instead
    assert dag.get_task("trading.trading_allowed").trigger_rule == "all_done"
    assert dag.get_task("monitoring.start").upstream_task_ids == ends
    gate = dag.get_task("env_sanity.environment_gate")
    assert gate.downstream_task_ids == {"env_sanity.environment_ok", "env_sanity.halt_trading"}
    assert dag.topological_sort()  # raises on a cycle


def test_master_report_follows_trading_and_monitoring(dagbag) -> None:
    dag = dagbag.get_dag("portfolio_master")
    report = dag.get_task("performance_report")
    monitoring = {t.task_id for t in dag.tasks if t.task_id.startswith("monitoring.")} - {"monitoring.start"}
    assert "monitoring.performance_snapshot" not in monitoring, "the report no longer races trading"
    assert report.upstream_task_ids == {"trading.snapshot"} | monitoring
    assert report.is_teardown, "a teardown: the run's state stays the state of trading and monitoring"
    assert report.trigger_rule == "all_done_setup_success"  # = all_done: it has no setup
    assert not report.downstream_task_ids
    assert "monitoring.performance_snapshot" in dagbag.get_dag("monitoring").task_ids


def test_sensor_reschedules_and_soft_fails(dagbag) -> None:
    sensor = dagbag.get_dag("auto_trader").get_task("trading.market_open")
    assert sensor.mode == "reschedule"
    assert sensor.soft_fail is True


def test_parsing_imports_no_heavy_modules(airflow_metadata: Path) -> None:
    code = (
        "import sys, json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS_DIR)!r})\n"
        f"print(json.dumps({{'errors': len(bag.import_errors), 'heavy': [m for m in {HEAVY_MODULES!r} "
        "if m in sys.modules]}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=os.environ.copy(), capture_output=True, text=True,
                          check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"errors": 0, "heavy": []}


def test_every_task_goes_to_its_pools_queue(dagbag) -> None:
    """On CeleryExecutor a pool's tasks go to ``pools.<pool>.queue`` (trading -> ``trading``); the rest to
    ``default``: every queue has a worker in deploy/ (tests/unit/deploy/test_compose.py)."""
    from orchestration.config import load_orchestration

    pools = load_orchestration().pools
    seen = set()
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            expected = pools[task.pool].queue if task.pool in pools else "default"
            assert task.queue == expected, f"{dag.dag_id}.{task.task_id}: pool {task.pool}, queue {task.queue}"
            seen.add(task.queue)
    assert {"trading", "default"} <= seen
