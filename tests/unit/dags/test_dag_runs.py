"""Every DAG runs green end to end with ``dag.test()`` in synthetic mode, sharing one pipeline home.

The order follows a trading day (fresh data first, trading on it, monitoring and maintenance after), so each
DAG works on what the previous ones produced, as in production.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT

RUN_CONF = {"execution_mode": "synthetic", "tickers": "AAPL,MSFT", "start_date": "2024-01-02"}
ORDER = [
    "synthetic_refresh", "env_sanity", "daily_etl", "auto_trader", "auto_trader_core", "monitoring",
    "nightly_backfill", "ts_threshold_sweep", "transaction_costs", "weekly_sleeve_maintenance",
    "sanitize_caches", "portfolio_master",
]
# the branch not taken when the environment is healthy; the retry of failed tickers when none failed
ALLOWED_SKIPS = {"env_sanity.halt_trading", "etl.retry_failed", "trading.retry_failed"}


@pytest.fixture(scope="module")
def day_home(tmp_path_factory: pytest.TempPathFactory, airflow_metadata: Path) -> Iterator[Path]:
    from tests.support import isolated_run_home

    with isolated_run_home(tmp_path_factory.mktemp("dag_runs")) as home:
        yield home


@pytest.fixture(scope="module")
def dagbag(day_home: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


@pytest.mark.parametrize("dag_id", ORDER)
def test_dag_runs_green(dagbag, day_home: Path, dag_id: str) -> None:
    dag = dagbag.get_dag(dag_id)
    assert dag.deadline, "every DAG carries its SLA deadline"
    # Airflow 3.3.2's dag.test() cannot finish a run of a DAG with deadlines (DagRun.update_state looks the
    # alerts up by the in-memory dicts instead of their ids); deadlines are exercised under the real
    # scheduler and triggerer in tests/integration/test_sla_*.py instead.
    dag.deadline = None
    run = dag.test(run_conf=RUN_CONF)
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    bad = {k: v for k, v in states.items() if v != "success" and not (v == "skipped" and k[0] in ALLOWED_SKIPS)}
    assert run.state == "success", bad
    assert not bad


def test_the_day_left_data_forecasts_and_trades(day_home: Path) -> None:
    with sqlite3.connect(day_home / "data" / "portfolio_maximizer.db") as conn:
        tickers = {r[0] for r in conn.execute("SELECT DISTINCT ticker FROM ohlcv")}
        models = {r[0] for r in conn.execute("SELECT DISTINCT model FROM forecasts")}
        signals = conn.execute("SELECT COUNT(*) FROM signals").fetchone()[0]
        snapshots = conn.execute("SELECT COUNT(*) FROM equity_snapshots").fetchone()[0]
    assert tickers == {"AAPL", "MSFT"}
    assert {"sarimax", "garch", "ssa", "ensemble"} <= models
    assert signals > 0 and snapshots > 0
    automation = day_home / "logs" / "automation"
    for name in ("ts_threshold_sweep.json", "transaction_costs.json"):
        assert (automation / name).exists(), name
    successes = [line for line in (day_home / "logs" / "cron" / "daily_etl.log").read_text().splitlines()
                 if " SUCCESS daily_etl.etl.batch[" in line]
    assert successes and all('"AAPL"' in line and '"MSFT"' in line for line in successes)
