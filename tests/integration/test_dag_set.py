"""The DAG set under the real scheduler: the master DAG end to end, and a failing ticker's dead letter + replay."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from foundation.paths import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]  # see tests/wait_budget.py

CONF = {"execution_mode": "synthetic", "start_date": "2024-01-02"}


def _pmx_db(stack) -> Path:
    return Path(stack.env["PMX_HOME"]) / "data" / "portfolio_maximizer.db"


def _dag_set_db(stack) -> Path:
    """The database the DAG-set runs write (``database_path`` of their conf)."""
    from tests.integration.conftest import DAG_SET_CONF

    return Path(stack.env["PMX_HOME"]) / DAG_SET_CONF["database_path"]


def _states(api, dag_id: str, run_id: str) -> dict[tuple[str, int], dict]:
    return {(ti["task_id"], ti["map_index"]): ti for ti in api.task_instances(dag_id, run_id)}


@pytest.fixture
def stack_db_env(airflow_stack, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point this test process at the stack's pipeline home (for the dead-letter API and direct SQL)."""
    from tests.support import reset_caches

    home = Path(airflow_stack.env["PMX_HOME"])
    monkeypatch.setenv("PMX_HOME", str(home))
    monkeypatch.setenv("PMX_LOG_DIR", airflow_stack.env["PMX_LOG_DIR"])
    monkeypatch.setenv("PORTFOLIO_DB_PATH", str(_pmx_db(airflow_stack)))
    monkeypatch.setenv("PMX_CONFIG_DIR", airflow_stack.env["PMX_CONFIG_DIR"])
    reset_caches()
    yield home
    reset_caches()


def test_master_dag_runs_green_under_the_scheduler(airflow_stack, dag_set_runs: dict[str, dict]) -> None:
    run = dag_set_runs["portfolio_master"]
    states = _states(airflow_stack.api, "portfolio_master", run["dag_run_id"])
    not_green = {k: v["state"] for k, v in states.items()
                 if v["state"] != "success" and k not in (("env_sanity.halt_trading", -1), ("etl.retry_failed", -1),
                                                                ("trading.retry_failed", -1))}
    assert run["state"] == "success", not_green
    assert not not_green
    assert states[("env_sanity.halt_trading", -1)]["state"] == "skipped"
    assert {k[1] for k in states if k[0] == "trading.trade"} == {0}, "AAPL and MSFT trade in one batch"
    assert {k[1] for k in states if k[0] == "etl.batch"} == {0}, "AAPL and MSFT share one batch"
    assert states[("etl.retry_failed", -1)]["state"] == "skipped", "no ticker failed: nothing to retry"
    with sqlite3.connect(_dag_set_db(airflow_stack)) as conn:
        loaded = dict(conn.execute("SELECT ticker, rows_loaded FROM etl_runs WHERE run_id = ?",
                                   (run["dag_run_id"],)))
        forecasts = conn.execute("SELECT COUNT(DISTINCT ticker) FROM forecasts WHERE run_id = ?",
                                 (run["dag_run_id"],)).fetchone()[0]
    assert set(loaded) == {"AAPL", "MSFT"} and min(loaded.values()) > 200
    assert forecasts == 2


def test_failing_ticker_is_dead_lettered_and_replays_from_its_checkpoint(airflow_stack, stack_db_env: Path) -> None:
    from foundation.pipeline_logger import read_events
    from orchestration.config import load_orchestration
    from orchestration.dead_letters import list_dead_letters, replay
    from portfolio.database_manager import DatabaseManager

    db = DatabaseManager()
    with db.connect() as conn:  # the cause: the table refuses one ticker's rows
        conn.execute("CREATE TRIGGER reject_xfail BEFORE INSERT ON ohlcv WHEN NEW.ticker = 'XFAIL' "
                     "BEGIN SELECT RAISE(ABORT, 'ohlcv refuses XFAIL rows'); END")
    api = airflow_stack.api
    api.wait_for_dags(["daily_etl"])
    api.set_paused("daily_etl", False)
    run_id = api.trigger("daily_etl", conf={**CONF, "tickers": "AAPL,XFAIL"})
    assert api.wait_for_run("daily_etl", run_id, timeout=600)["state"] == "failed"
    states = _states(api, "daily_etl", run_id)
    assert states[("etl.batch", 0)]["state"] == "success", "XFAIL's failure does not fail its batch"
    assert states[("etl.retry_failed", 0)]["state"] == "failed", "only XFAIL is retried"
    assert ("etl.retry_failed", 1) not in states
    retries = load_orchestration().retries["etl_retry"].retries
    assert states[("etl.retry_failed", 0)]["try_number"] == 1 + retries, "retried before giving up"
    with sqlite3.connect(_pmx_db(airflow_stack)) as conn:
        loaded = dict(conn.execute("SELECT ticker, status FROM etl_runs WHERE run_id = ?", (run_id,)))
    assert loaded == {"AAPL": "success", "XFAIL": "failed"}, "AAPL must not be affected"

    (letter,) = [d for d in list_dead_letters() if d["run_id"] == run_id]
    assert (letter["dag_id"], letter["task_id"], letter["map_index"]) == ("daily_etl", "etl.retry_failed", 0)
    assert letter["ticker"] == "XFAIL"
    assert "refuses XFAIL" in letter["error"]

    with db.connect() as conn:  # the fix
        conn.execute("DROP TRIGGER reject_xfail")
    replay(letter["id"], api)
    assert api.wait_for_run("daily_etl", run_id, timeout=600)["state"] == "success"
    api.set_paused("daily_etl", True)
    after = _states(api, "daily_etl", run_id)
    assert after[("etl.retry_failed", 0)]["state"] == "success"
    assert after[("etl.batch", 0)]["try_number"] == 1, "the replay re-runs XFAIL alone, not its batch"
    resumed = [e for e in read_events(stream="pipeline") if e.get("event") == "etl_stage_resumed"
               and e.get("ticker") == "XFAIL" and e.get("run_id") == run_id]
    assert {e["stage"] for e in resumed} == {"extract", "validate"}, "the replay resumes after the checkpoint"
    with db.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM ohlcv WHERE ticker = 'XFAIL'").fetchone()[0] > 200
    assert [d["id"] for d in list_dead_letters() if d["run_id"] == run_id] == []
    assert [d["replay_status"] for d in list_dead_letters(include_replayed=True) if d["run_id"] == run_id] == [
        "cleared"]


def test_summary_and_report_of_the_master_run_agree(airflow_stack, dag_set_runs: dict[str, dict],
                                                      stack_db_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from local_stack.run import run_report, run_summary
    from tests.support import reset_caches

    monkeypatch.setenv("PORTFOLIO_DB_PATH", str(_dag_set_db(airflow_stack)))  # the summary reads the set's database
    reset_caches()

    run = dag_set_runs["portfolio_master"]
    report = run_report(airflow_stack.api, run["dag_run_id"])
    assert report is not None, "the report task returned its result"
    section = report["run"]
    assert (section["run_id"], section["state"]) == (run["dag_run_id"], run["state"]) == (section["run_id"],
                                                                                          "success")
    with sqlite3.connect(_dag_set_db(airflow_stack)) as conn:
        trades = conn.execute("SELECT COUNT(*) FROM trades WHERE run_id = ?", (run["dag_run_id"],)).fetchone()[0]
    assert section["trades"] == trades
    assert section["equity"] is not None
    tis = {(ti["task_id"], ti["map_index"]): ti for ti in airflow_stack.api.task_instances(
        "portfolio_master", run["dag_run_id"])}
    report_ti = tis[("performance_report", -1)]
    others = [ti for key, ti in tis.items() if key[0] != "performance_report"]
    assert report_ti["state"] == "success"
    # built once every other task of the run had ended (trading, its snapshot and the monitoring checks)
    assert report_ti["start_date"] >= max(ti["end_date"] for ti in others if ti["end_date"])
    assert ("monitoring.performance_snapshot", -1) not in tis
    # the shipped backtest (the session stack keeps performance_report.backtest_origins as shipped)
    shipped = yaml.safe_load((REPO_ROOT / "config" / "pipeline.yml").read_text())["performance_report"]
    backtest = json.loads(Path(report["json"]).read_text())["backtest"]
    assert shipped["backtest_origins"] > 0 and backtest["origins_per_ticker"] == shipped["backtest_origins"]
    replayed = backtest["origins"].get("walk_forward", 0)  # topped up by a walk-forward replay of the models
    assert 0 < replayed <= shipped["backtest_origins"] * len(backtest["tickers"]) and backtest["curve"]
    summary = run_summary(airflow_stack, run)
    assert summary["trades"].startswith(f"{trades} (costs ")
    assert summary["equity"] == f"${section['equity']:,.2f} (PnL ${section['pnl']:,.2f})"
    assert summary["report"].endswith("(agrees on state, trades and equity)"), summary["report"]
