"""The trading-halt path with real Airflow Variables (``dag.test()``): a failed check halts, a good one lifts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT

PINNED = "2026-12-04T00:30:00+00:00"  # 19:30 New York on Thursday 2026-12-03 (already Friday in UTC)
BASE = {"execution_mode": "synthetic", "tickers": "AAPL", "start_date": "2024-01-02", "market_clock_at": PINNED}


@pytest.fixture(scope="module")
def halt_home(tmp_path_factory: pytest.TempPathFactory, airflow_metadata: Path) -> Iterator[Path]:
    from tests.support import isolated_run_home

    with isolated_run_home(tmp_path_factory.mktemp("halt")) as home:
        yield home


@pytest.fixture(scope="module")
def dags(halt_home: Path):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    out = {d: bag.get_dag(d) for d in ("env_sanity", "auto_trader", "daily_etl")}
    for dag in out.values():
        dag.deadline = None  # Airflow 3.3.2's dag.test() cannot finish runs with deadlines (see test_dag_runs.py)
    return out


def _run(dag, conf: dict) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    run = dag.test(run_conf=conf)
    states: dict[str, str] = {}
    for ti in run.get_task_instances():
        states[ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"] = str(ti.state)
    return str(run.state), states


def _halt() -> dict | None:
    from airflow.models import Variable

    raw = Variable.get("portfolio.trading_halt", default_var=None)
    return json.loads(raw) if raw else None


def test_a_failed_check_halts_trading_and_the_next_good_check_lifts_it(dags: dict, halt_home: Path) -> None:
    from airflow.models import Variable

    Variable.delete("portfolio.trading_halt")
    state, states = _run(dags["env_sanity"], {**BASE, "start_date": "2999-01-01"})  # run_params check fails
    assert (state, states["env_sanity.halt_trading"]) == ("failed", "failed")
    halt = _halt()
    assert halt is not None and halt["date"] == "2026-12-03"  # the New York session date, not the UTC one
    assert "run_params" in halt["reason"]

    state, states = _run(dags["auto_trader"], BASE)
    assert state == "success"
    assert states["trading.trading_allowed"] == "success"
    assert states["trading.market_open"] == "skipped" and states["trading.trade"] == "skipped"

    state, states = _run(dags["env_sanity"], BASE)
    assert (state, states["env_sanity.environment_ok"]) == ("success", "success"), states
    assert _halt() is None

    assert _run(dags["daily_etl"], BASE)[0] == "success"
    state, states = _run(dags["auto_trader"], BASE)
    assert state == "success", states
    assert states["trading.market_open"] == "success" and states["trading.trade[0]"] == "success"
