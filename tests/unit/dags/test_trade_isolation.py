"""auto_trader's trade batches keep per-ticker isolation: one ``dag.test()`` run over AAPL and MSFT (loaded by a
``daily_etl`` run first) and NODATA, which has no bars, all three in one batch.

The config is the integration-stack copy (retry delays of about a second), so ``retry_failed`` really retries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from foundation.paths import REPO_ROOT

ETL_CONF = {"execution_mode": "synthetic", "tickers": "AAPL,MSFT", "start_date": "2024-01-02",
            "end_date": "2024-12-31"}
TRADE_CONF = {**ETL_CONF, "tickers": "AAPL,NODATA,MSFT"}


@dataclass
class TradeRun:
    run: Any
    states: dict[tuple[str, int], Any]
    events: list[dict[str, Any]]
    trading_retries: int


@pytest.fixture(scope="module")
def trade_run(tmp_path_factory: pytest.TempPathFactory, airflow_metadata: Path) -> Iterator[TradeRun]:
    from airflow.dag_processing.dagbag import DagBag

    from foundation.pipeline_logger import read_events
    from tests.integration.stack_support import copy_test_config
    from tests.support import isolated_run_home, reset_caches

    root = tmp_path_factory.mktemp("trade_isolation")
    with isolated_run_home(root / "home"), pytest.MonkeyPatch.context() as mp:
        config = copy_test_config(root / "config")
        mp.setenv("PMX_CONFIG_DIR", str(config))
        reset_caches()
        bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
        for dag_id, conf in (("daily_etl", ETL_CONF), ("auto_trader", TRADE_CONF)):
            dag = bag.get_dag(dag_id)
            dag.deadline = None  # see tests/unit/dags/test_dag_runs.py
            run = dag.test(run_conf=conf)
        assert run.dag_id == "auto_trader"
        states = {(ti.task_id, ti.map_index): ti for ti in run.get_task_instances()}
        events = [e for stream in ("events", "pipeline") for e in read_events(stream=stream)]
        retries = yaml.safe_load((config / "orchestration.yml").read_text())["retries"]["trading"]["retries"]
        yield TradeRun(run, states, events, retries)
        reset_caches()


def _xcom(ti: Any) -> Any:
    return ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index)


def test_the_tickers_trade_in_one_batch_that_reports_the_failed_one(trade_run: TradeRun) -> None:
    allowed = trade_run.states[("trading.trading_allowed", -1)]
    assert _xcom(allowed) == [["AAPL", "NODATA", "MSFT"]], "3 tickers are under trade_batches.min_batch_size"
    batch = trade_run.states[("trading.trade", 0)]
    assert batch.state == "success", "a failing ticker never fails its batch"
    result = _xcom(batch)
    assert sorted(result["succeeded"]) == ["AAPL", "MSFT"]
    assert list(result["failed"]) == ["NODATA"] and "no bars" in result["failed"]["NODATA"]


def test_only_the_failed_ticker_is_retried_with_airflow_retries(trade_run: TradeRun) -> None:
    assert _xcom(trade_run.states[("trading.failed_tickers", -1)]) == ["NODATA"]
    retries = {k[1]: ti for k, ti in trade_run.states.items() if k[0] == "trading.retry_failed"}
    assert list(retries) == [0], "one retry task instance, for NODATA alone"
    assert (retries[0].state, retries[0].try_number) == ("failed", 1 + trade_run.trading_retries)
    assert trade_run.states[("trading.snapshot", -1)].state == "upstream_failed"
    assert trade_run.run.state == "failed", "a ticker that still fails after its retries fails the run"
    cycles = Counter(e["ticker"] for e in trade_run.events
                     if e.get("event") == "trade_cycle_ticker" and e.get("run_id") == trade_run.run.run_id)
    assert cycles == {"AAPL": 1, "MSFT": 1}, "the healthy tickers traded once, the batch was never re-run"
