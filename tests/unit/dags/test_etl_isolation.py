"""daily_etl's batches keep per-ticker isolation: one ``dag.test()`` run with a ticker the database refuses
(XFAIL) and a ticker whose data breaks a quality rule (BAD), each in a batch with a healthy ticker.

The config is the integration-stack copy (retry delays of about a second, backoff on), so the retries of
``retry_failed`` run for real inside ``dag.test()``.
"""

from __future__ import annotations

import socket
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from foundation.paths import REPO_ROOT

TICKERS = ["AAPL", "XFAIL", "BAD", "MSFT"]  # two batches: [AAPL, XFAIL], [BAD, MSFT]
CONF = {"execution_mode": "synthetic", "tickers": ",".join(TICKERS), "start_date": "2024-01-02",
        "end_date": "2024-12-31"}


@dataclass
class EtlRun:
    home: Path
    run: Any
    states: dict[tuple[str, int], Any]
    events: list[dict[str, Any]]
    metrics: list[str]


def _database(home: Path) -> Path:
    return home / "data" / "portfolio_maximizer.db"


def _bad_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """BAD's source delivers a duplicated bar (rule ``dates_monotonic_unique``)."""
    from portfolio.data_sources.manager import DataSourceManager

    fetch = DataSourceManager.fetch

    def fetch_with_bad(self: Any, ticker: str, start: Any, end: Any) -> Any:
        result = fetch(self, ticker, start, end)
        if ticker != "BAD":
            return result
        import pandas as pd

        frame = pd.concat([result.frame.iloc[:5], result.frame.iloc[4:5], result.frame.iloc[5:]], ignore_index=True)
        return replace(result, frame=frame)

    monkeypatch.setattr(DataSourceManager, "fetch", fetch_with_bad)


@pytest.fixture(scope="module")
def etl_run(tmp_path_factory: pytest.TempPathFactory, airflow_metadata: Path) -> Iterator[EtlRun]:
    from airflow.dag_processing.dagbag import DagBag

    from foundation.pipeline_logger import read_events
    from portfolio.database_manager import DatabaseManager
    from tests.integration.stack_support import copy_test_config
    from tests.support import isolated_run_home, received_lines, reset_caches

    root = tmp_path_factory.mktemp("etl_isolation")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    with isolated_run_home(root / "home") as home, pytest.MonkeyPatch.context() as mp:
        mp.setenv("PMX_CONFIG_DIR", str(copy_test_config(root / "config")))
        mp.setenv("PMX_STATSD_ENABLED", "true")
        mp.setenv("PMX_STATSD_HOST", "127.0.0.1")
        mp.setenv("PMX_STATSD_PORT", str(sock.getsockname()[1]))
        reset_caches()
        _bad_data(mp)
        with DatabaseManager().connect() as conn:  # XFAIL's load is refused by the table itself
            conn.execute("CREATE TRIGGER reject_xfail BEFORE INSERT ON ohlcv WHEN NEW.ticker = 'XFAIL' "
                         "BEGIN SELECT RAISE(ABORT, 'ohlcv refuses XFAIL rows'); END")
        dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).get_dag("daily_etl")
        dag.deadline = None  # see tests/unit/dags/test_dag_runs.py
        run = dag.test(run_conf=CONF)
        states = {(ti.task_id, ti.map_index): ti for ti in run.get_task_instances()}
        # ("errors" holds copies of the error-level events)
        events = [e for stream in ("events", "pipeline") for e in read_events(stream=stream)]
        metrics = received_lines(sock)
        yield EtlRun(home, run, states, events, metrics)
        reset_caches()
    sock.close()


def _xcom(ti: Any) -> Any:
    return ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index)


def test_a_failing_ticker_does_not_fail_its_batch_nor_the_others(etl_run: EtlRun) -> None:
    batches = {k: ti for k, ti in etl_run.states.items() if k[0] == "etl.batch"}
    assert len(batches) == 2
    assert {ti.state for ti in batches.values()} == {"success"}, "the batch reports its failed tickers"
    with sqlite3.connect(_database(etl_run.home)) as conn:
        loaded = dict(conn.execute("SELECT ticker, COUNT(*) FROM ohlcv GROUP BY ticker"))
        forecast = {r[0] for r in conn.execute("SELECT DISTINCT ticker FROM forecasts")}
        runs = dict(conn.execute("SELECT ticker, status FROM etl_runs WHERE run_id = ?", (etl_run.run.run_id,)))
    assert set(loaded) == {"AAPL", "MSFT"} and min(loaded.values()) > 200
    assert forecast == {"AAPL", "MSFT"}
    assert runs == {"AAPL": "success", "MSFT": "success", "XFAIL": "failed", "BAD": "rejected"}


def test_only_the_failed_tickers_are_retried_with_airflow_retries(etl_run: EtlRun) -> None:
    failed = etl_run.states[("etl.failed_tickers", -1)]
    assert failed.state == "success"
    assert _xcom(failed) == ["XFAIL", "BAD"]
    retries = {k[1]: ti for k, ti in etl_run.states.items() if k[0] == "etl.retry_failed"}
    assert sorted(retries) == [0, 1], "one retry task instance per failed ticker, none for the healthy ones"
    xfail = retries[0]
    assert (xfail.state, xfail.try_number) == ("failed", 4), "3 Airflow retries (backoff) before giving up"
    assert etl_run.run.state == "failed", "a ticker that still fails after its retries fails the run"
    starts = Counter(e["ticker"] for e in etl_run.events if e.get("event") == "etl_ticker_start")
    assert starts == {"AAPL": 1, "MSFT": 1, "XFAIL": 1 + 4, "BAD": 1 + 1}, "the batch is never re-run"
    resumed = Counter((e["ticker"], e["stage"]) for e in etl_run.events if e.get("event") == "etl_stage_resumed")
    assert resumed[("XFAIL", "extract")] == 4, "each retry resumes after the extract checkpoint"
    assert resumed[("XFAIL", "validate")] == 4


def test_a_quality_failure_writes_nothing_and_is_not_retried(etl_run: EtlRun) -> None:
    bad = etl_run.states[("etl.retry_failed", 1)]
    assert (bad.state, bad.try_number) == ("failed", 1), "the same data breaks the same rule: no blind retry"
    with sqlite3.connect(_database(etl_run.home)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM ohlcv WHERE ticker = 'BAD'").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM forecasts WHERE ticker = 'BAD'").fetchone()[0] == 0
    rejected = [e for e in etl_run.events if e.get("event") == "data_quality_rejected" and e["ticker"] == "BAD"]
    assert rejected and rejected[0]["rule"] == "dates_monotonic_unique"


def test_per_ticker_events_and_metrics_are_still_emitted(etl_run: EtlRun) -> None:
    finished = {e["ticker"] for e in etl_run.events if e.get("event") == "etl_ticker_finish"}
    failed = Counter(e["ticker"] for e in etl_run.events if e.get("event") == "etl_ticker_failed")
    assert finished == {"AAPL", "MSFT"}
    assert failed == {"XFAIL": 5, "BAD": 2}
    outcomes = Counter(line.split(":")[0] for line in etl_run.metrics if line.startswith("pmx.etl.ticker_outcome"))
    assert outcomes == {
        "pmx.etl.ticker_outcome,ticker=AAPL,outcome=success": 1,
        "pmx.etl.ticker_outcome,ticker=MSFT,outcome=success": 1,
        "pmx.etl.ticker_outcome,ticker=XFAIL,outcome=failed": 5,
        "pmx.etl.ticker_outcome,ticker=BAD,outcome=rejected": 2,
    }
    assert {line.split(":")[0] for line in etl_run.metrics if line.startswith("pmx.etl.rows_ingested")} == {
        "pmx.etl.rows_ingested,ticker=AAPL", "pmx.etl.rows_ingested,ticker=MSFT"}
    assert any(line.startswith("pmx.etl.quality_failure,ticker=BAD,") for line in etl_run.metrics)


def test_the_dead_letter_replays_the_ticker_from_its_checkpoint(etl_run: EtlRun,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestration.dead_letters import list_dead_letters, replay
    from portfolio.database_manager import DatabaseManager
    from portfolio.run_inputs import resolve_run_inputs
    from scripts.run_etl_pipeline import run_stage
    from tests.support import reset_caches

    monkeypatch.setenv("PMX_HOME", str(etl_run.home))
    monkeypatch.setenv("PMX_LOG_DIR", str(etl_run.home / "logs"))
    monkeypatch.setenv("PORTFOLIO_DB_PATH", str(_database(etl_run.home)))
    monkeypatch.setenv("PMX_STATSD_ENABLED", "false")
    reset_caches()
    run_id = etl_run.run.run_id
    letters = {d["ticker"]: d for d in list_dead_letters() if d["run_id"] == run_id}
    assert set(letters) == {"XFAIL", "BAD"}
    xfail = letters["XFAIL"]
    assert (xfail["task_id"], xfail["map_index"], xfail["try_number"]) == ("etl.retry_failed", 0, 4)
    assert "refuses XFAIL" in xfail["error"]

    class Api:
        calls: list[tuple[str, str, Any]] = []

        def request(self, method: str, path: str, **kwargs: Any) -> Any:
            self.calls.append((method, path, kwargs.get("json")))
            return {}

    with DatabaseManager().connect() as conn:  # the fix
        conn.execute("DROP TRIGGER reject_xfail")
    api = Api()
    replay(xfail["id"], api)
    ((method, path, body),) = api.calls
    assert (method, path) == ("POST", "/dags/daily_etl/clearTaskInstances")
    assert body["task_ids"] == [["etl.retry_failed", 0]] and body["dag_run_id"] == run_id
    # what the cleared task instance runs: the ticker's ETL under the run's checkpoint id
    inputs = resolve_run_inputs(CONF, environ={})
    again = run_stage(stage="all", ticker="XFAIL", run_id=run_id, inputs=inputs,
                      pipeline_id=f"daily_etl__{run_id}__XFAIL")
    assert again["stages_resumed"] == ["extract", "validate"]
    assert again["stages_run"] == ["load", "forecast"] and again["rows_loaded"] > 200
