"""The portfolio database on SQLite and on PostgreSQL: backend selection, migrations, the ETL, the auto-trader and
the report readers give the same results on both; several processes share one PostgreSQL database.

PostgreSQL is the machine's server on 127.0.0.1:5432 (a throw-away database per session, a schema per test).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from foundation.paths import REPO_ROOT
from foundation.redaction import redact
from portfolio import etl
from portfolio.broker import PaperBroker
from portfolio.database_manager import DatabaseError, DatabaseManager, DatabaseUnavailable, forget_ready_state
from portfolio.db_backend import POSTGRESQL, SQLITE, WRITE_LOCK_KEY, resolve_target, to_pyformat
from portfolio.params import resolve
from portfolio.run_inputs import resolve_run_inputs
from portfolio.run_scope import bound
from portfolio.schema import SCHEMA_VERSION
from portfolio.trader import core_trade_budget, portfolio_snapshot, run_cycle
from tests.support import free_port, reset_caches
from tests.trading_support import (
    count_rows,
    override_config,
    random_walk,
    seed_ensemble_forecast,
    seed_ohlcv,
    session_dates,
)

SINCE, UNTIL = "2000-01-01", "9999-12-31"


def columns(db: DatabaseManager) -> dict[str, list[str]]:
    """Table -> column names of the database, read from its own catalogue."""
    conn = db.connect()
    try:
        if db.backend == POSTGRESQL:
            rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                                "WHERE table_schema = current_schema() AND table_name <> 'schema_version' "
                                "ORDER BY table_name, ordinal_position").fetchall()
        else:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            rows = [(n, c[1]) for n in names for c in conn.execute(f"PRAGMA table_info({n})")]
    finally:
        conn.close()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(str(table), []).append(str(column))
    return out


def same(left: Any, right: Any) -> bool:
    """Equal, floats to 1e-9 relative (aggregates may add in another order), NaN equal to NaN."""
    if isinstance(left, float) or isinstance(right, float):
        both_nan = isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right)
        return both_nan or left == pytest.approx(right, rel=1e-9, abs=1e-9)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


# -- selecting the backend ---------------------------------------------------------------------------------------
def test_sqlite_is_the_default(pmx_home: Path) -> None:
    target = resolve_target()
    assert (target.backend, target.path, target.dsn) == (SQLITE, pmx_home / "data" / "portfolio_maximizer.db", None)


def test_a_dsn_selects_postgresql_and_is_never_shown_with_its_password(pmx_home: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTFOLIO_DB_DSN", "host=db.internal dbname=pmx user=pmx password=s3cr3t-pw")
    db = DatabaseManager()
    assert (db.backend, db.path) == (POSTGRESQL, None)
    assert db.location == "host=db.internal dbname=pmx user=pmx password=***"
    assert "s3cr3t-pw" not in repr(db.target) and redact("failed with s3cr3t-pw") == "failed with ***"
    assert db.backups() == []
    with pytest.raises(DatabaseError, match="pg_dump"):
        _ = db.file


def test_the_runs_dsn_comes_before_the_environment_and_an_explicit_path_before_both(
        pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTFOLIO_DB_DSN", "host=from-env dbname=pmx")
    inputs = resolve_run_inputs({"database_dsn": "postgresql://pmx:pw@from-run/pmx"}, environ=os.environ)
    assert inputs.database_dsn == "postgresql://pmx:pw@from-run/pmx" and "from-run" not in repr(inputs)
    with bound(inputs):
        assert resolve_target().location == "postgresql://pmx:***@from-run/pmx"
        assert resolve_target(path=pmx_home / "x.db").backend == SQLITE
    assert resolve_target().dsn == "host=from-env dbname=pmx"
    assert resolve_run_inputs(environ=os.environ).database_dsn == "host=from-env dbname=pmx"


def test_the_config_selects_postgresql_with_its_dsn(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from foundation.config_loader import ConfigError

    override_config(pmx_home, monkeypatch, {"database": {"backend": "postgresql", "dsn": "host=cfg dbname=pmx"}})
    assert (resolve_target().backend, resolve_target().dsn) == (POSTGRESQL, "host=cfg dbname=pmx")
    override_config(pmx_home, monkeypatch, {"database": {"backend": "postgresql", "dsn": None}})
    with pytest.raises(ConfigError, match="PORTFOLIO_DB_DSN"):
        resolve_target()
    monkeypatch.setenv("PORTFOLIO_DB_DSN", "host=env dbname=pmx")
    assert resolve_target().dsn == "host=env dbname=pmx"


def test_the_entrypoint_logs_the_dsn_without_its_password(pmx_home: Path) -> None:
    from scripts.entrypoint import _logged_args

    inputs = resolve_run_inputs({"database_dsn": "host=db user=pmx password=hunter2-x"}, environ={})
    assert _logged_args({"inputs": inputs})["database_dsn"] == "host=db user=pmx password=***"


def test_placeholders_become_pyformat_outside_quoted_text() -> None:
    assert to_pyformat("SELECT ? WHERE a LIKE 'x?%' AND b = ? -- 5%") == \
        "SELECT %s WHERE a LIKE 'x?%%' AND b = %s -- 5%%"
    assert to_pyformat("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"


def test_an_unreachable_server_is_unavailable_not_broken(pmx_home: Path) -> None:
    dsn = f"host=127.0.0.1 port={free_port()} user=pmx password=never-shown dbname=pmx connect_timeout=2"
    db = DatabaseManager(dsn=dsn)
    with pytest.raises(DatabaseUnavailable, match="cannot be reached") as caught:
        db.connect()
    assert "never-shown" not in str(caught.value) and "password=***" in str(caught.value)


# -- the same schema, data and answers on both ---------------------------------------------------------------------
def test_migrations_build_the_same_schema_once(db_backend: str, pmx_home: Path) -> None:
    from orchestration.lineage_binding import table_schemas

    db = DatabaseManager()
    db.ensure_ready()
    assert db.backend == db_backend and db.schema_version() == SCHEMA_VERSION
    expected = {t: [c for c, _ in cols] for t, cols in table_schemas().items()}
    assert columns(db) == expected
    assert db.migrate() == SCHEMA_VERSION  # nothing left to apply
    assert db.integrity_check() == []
    backup = db.backup()
    assert (backup is None) == (db_backend == POSTGRESQL)


def test_a_schema_newer_than_the_code_is_refused(db_backend: str, pmx_home: Path) -> None:
    db = DatabaseManager()
    conn = db.connect()
    try:
        if db_backend == POSTGRESQL:
            conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
        else:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    finally:
        conn.close()
    forget_ready_state()
    with pytest.raises(DatabaseError, match="newer than this code"):
        DatabaseManager().connect()


def test_the_etl_loads_and_forecasts_synthetic_tickers(db_backend: str, pmx_home: Path) -> None:
    db = DatabaseManager()
    params = resolve(tickers="AAPL,MSFT,GOOGL", start=date(2023, 6, 1), end=date(2024, 3, 28), mode="synthetic",
                     enable_parallel_tickers=True)
    summary = etl.run_etl(params, "etl-1", db=db)
    assert not summary.get("failed"), summary
    again = etl.load_ticker("MSFT", "etl-1", db=db)  # an upsert: loading twice changes nothing
    conn = db.connect()
    try:
        bars = dict(conn.execute("SELECT ticker, COUNT(*) FROM ohlcv GROUP BY ticker").fetchall())
        runs = conn.execute("SELECT ticker, status, rows_loaded FROM etl_runs WHERE run_id = 'etl-1' "
                            "ORDER BY ticker").fetchall()
        forecasts = dict(conn.execute("SELECT ticker, COUNT(DISTINCT model) FROM forecasts WHERE run_id = 'etl-1' "
                                      "GROUP BY ticker").fetchall())
        metrics = conn.execute("SELECT COUNT(*) FROM forecast_metrics WHERE run_id = 'etl-1'").fetchone()[0]
    finally:
        conn.close()
    assert set(bars) == {"AAPL", "MSFT", "GOOGL"} and bars["MSFT"] == again["rows_loaded"]
    assert [(t, s, n) for t, s, n in runs] == [(t, "success", bars[t]) for t in ("AAPL", "GOOGL", "MSFT")]
    assert set(forecasts) == set(bars) and min(forecasts.values()) >= 2 and metrics > 0


def _trading_scenario() -> DatabaseManager:
    """Two tickers, stored forecasts, two trading cycles (a BUY each, then a SELL of one), backfilled signals."""
    from portfolio.signal_validation import backfill

    db = DatabaseManager()
    dates: list[str] = []
    for i, ticker in enumerate(("AAPL", "MSFT")):
        dates = seed_ohlcv(db, ticker, random_walk(160, seed=i + 1), first="2024-01-02")
        seed_ensemble_forecast(db, ticker, dates[-1], "etl-1", expected_return=0.02, confidence=0.9)
    params = resolve(tickers="AAPL,MSFT", mode="synthetic", enable_parallel_tickers=False)  # a fixed order
    first = run_cycle(params, "run-1")
    assert first["traded"] == 2 and first["signals"] == {"BUY": 2}
    assert run_cycle(params, "run-1b")["skipped"] == 2  # the same bar again writes nothing
    after = session_dates(len(dates) + 1, "2024-01-02")[-1]
    for i, ticker in enumerate(("AAPL", "MSFT")):
        later = seed_ohlcv(db, ticker, random_walk(8, seed=10 + i, start=110.0), first=after)
        seed_ensemble_forecast(db, ticker, later[-1], "etl-2", expected_return=-0.03 if ticker == "AAPL" else 0.0,
                               confidence=0.9)
    second = run_cycle(params, "run-2")
    assert second["signals"] == {"SELL": 1, "HOLD": 1} and second["traded"] == 1
    portfolio_snapshot("run-2", db)
    with db.transaction() as conn:  # an early signal whose horizon has passed, for the hit rate
        conn.execute("UPDATE signals SET bar = ? WHERE run_id = 'run-1'", (dates[-20],))
    backfill(db, 5)
    return db


def _readouts(db: DatabaseManager) -> dict[str, Any]:
    """Everything the reports and maintenance scripts read, without the wall-clock timestamps."""
    from monitoring import report_pipeline, report_trading
    from portfolio.backtest import stored_panel
    from portfolio.costs import estimate_costs_from_trades
    from portfolio.forecaster_monitor import model_quality, signal_summary
    from portfolio.quant_health import compute_metrics
    from portfolio.reporting import pipeline_summary
    from portfolio.settings import load_settings
    from portfolio.sleeves import ticker_stats

    conn = db.connect()
    try:
        curve = report_trading.equity_curve(conn, SINCE, UNTIL)
        trades = report_trading.trade_rows(conn, SINCE, UNTIL)
        out = {
            "curve": [{k: v for k, v in p.items() if k != "ts"} for p in curve["points"]],
            "trades": [{k: v for k, v in t.items() if k != "ts"} for t in trades],
            "trade_stats": report_trading.trade_stats(trades),
            "run": report_trading.run_results(conn, "run-2"),
            "forecast_errors": report_trading.forecast_errors(conn, SINCE, UNTIL),
            "hit_rate": report_trading.signal_hit_rate(conn, SINCE, UNTIL),
            "market": report_trading.market_data(conn, date(2024, 8, 23), "XNYS"),
            "etl": {t: v["rows_loaded"] for t, v in report_pipeline.last_etl_success([], conn).items()},
            "model_quality": model_quality(conn, 5),
            "signals": signal_summary(conn),
            "sleeve": ticker_stats(conn, "AAPL", 100, 252),
            "positions": PaperBroker(db).positions(conn),
            "budget": core_trade_budget(db),
        }
    finally:
        conn.close()
    summary = pipeline_summary("run-2", db)
    out.update(quant=compute_metrics(db), health=report_trading.quant_health(db, load_settings()),
               costs=estimate_costs_from_trades(db), panel=stored_panel(db, ["AAPL", "MSFT"], 1),
               summary={k: v for k, v in summary.items() if k not in ("database", "events")})
    return out


def test_trading_and_reports_give_the_same_answers_on_both(pmx_home: Path, postgres_dsn: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    on_sqlite = _readouts(_trading_scenario())
    sqlite_rows = count_rows(DatabaseManager(), "signals", "trades", "positions", "account", "equity_snapshots")
    monkeypatch.setenv("PORTFOLIO_DB_DSN", postgres_dsn)
    reset_caches()
    db = _trading_scenario()
    assert db.backend == POSTGRESQL
    assert count_rows(db, "signals", "trades", "positions", "account", "equity_snapshots") == sqlite_rows
    on_postgresql = _readouts(db)
    assert sqlite_rows["trades"] == 3 and on_sqlite["positions"].keys() == {"MSFT"}
    assert on_sqlite["hit_rate"]["scored"] == 2 and on_sqlite["trade_stats"]["closed_trades"] == 1
    assert on_postgresql.keys() == on_sqlite.keys()
    for key, value in on_sqlite.items():
        assert same(on_postgresql[key], value), (key, on_postgresql[key], value)


def test_dead_letters_are_recorded_and_listed(db_backend: str, pmx_home: Path) -> None:
    from types import SimpleNamespace

    from orchestration.dead_letters import list_dead_letters, record_dead_letter

    ti = SimpleNamespace(dag_id="daily_etl", task_id="etl.batch", run_id="r1", map_index=0, try_number=3)
    record_dead_letter({"ti": ti, "exception": ValueError("boom")})
    record_dead_letter({"ti": ti, "exception": KeyError("again")})  # the same task instance: one record
    letters = list_dead_letters()
    assert [(d["task_id"], d["error_type"], d["replayed_at"]) for d in letters] == [("etl.batch", "KeyError", None)]


def test_the_health_checks_pass_on_both(db_backend: str, pmx_home: Path) -> None:
    from monitoring.health import database_health
    from scripts.validate_environment import check_database

    ok, said = check_database()
    assert ok and said == f"{DatabaseManager().location} ok"
    report = database_health()
    assert report["rows"] == {"ohlcv": 0, "forecasts": 0, "signals": 0, "trades": 0}
    assert ("pg_dump" in report["backup"]) == (db_backend == POSTGRESQL)


# -- PostgreSQL only: locks and several processes --------------------------------------------------------------------
def test_a_held_write_lock_times_out_as_unavailable(pmx_home: Path, postgres_dsn: str) -> None:
    import psycopg2

    db = DatabaseManager(dsn=postgres_dsn, busy_timeout_ms=300)
    db.ensure_ready()
    holder = psycopg2.connect(postgres_dsn)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
        with pytest.raises(DatabaseUnavailable, match=r"LockNotAvailable.*write lock"), db.transaction() as conn:
            conn.execute("INSERT INTO positions (ticker, quantity, avg_price, updated_at) VALUES ('X', 1, 1, 'now')")
    finally:
        holder.rollback()
        holder.close()
    assert count_rows(db, "positions") == {"positions": 0}


WRITER = textwrap.dedent("""
    import sys, time
    from datetime import date
    from pathlib import Path
    from portfolio import etl
    from portfolio.broker import PaperBroker
    from portfolio.database_manager import DatabaseManager
    from portfolio.params import resolve

    ticker, go = sys.argv[1], Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.01)
    db = DatabaseManager()
    params = resolve(tickers=ticker, start=date(2024, 1, 2), end=date(2024, 3, 28), mode="synthetic")
    summary = etl.run_ticker_etl(ticker, params, "shared-run", db=db)
    assert summary["rows_loaded"] > 0, summary
    broker = PaperBroker(db)
    for i in range(5):
        assert broker.buy(ticker, 100.0 + i, bar=f"2024-03-2{i}", run_id="shared-run", quantity=3)["status"] == "filled"
""")


def test_two_processes_write_their_tickers_into_one_postgresql_database(pmx_home: Path, postgres_dsn: str,
                                                                         tmp_path: Path) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "PORTFOLIO_DB_DSN": postgres_dsn, "PYTHONPATH": str(REPO_ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, ticker, str(go)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for ticker in ("AAPL", "MSFT")]
    go.touch()  # both start together: the first open (migrations) and the writes race
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
    db = DatabaseManager(dsn=postgres_dsn)
    conn = db.connect()
    try:
        loaded = dict(conn.execute("SELECT ticker, COUNT(*) FROM ohlcv GROUP BY ticker").fetchall())
        runs = dict(conn.execute("SELECT ticker, status FROM etl_runs WHERE run_id = 'shared-run'").fetchall())
        spent = conn.execute("SELECT SUM(quantity * price + cost) FROM trades").fetchone()[0]
        cash, initial = conn.execute("SELECT cash, initial_cash FROM account").fetchone()
        held = dict(conn.execute("SELECT ticker, quantity FROM positions").fetchall())
    finally:
        conn.close()
    assert loaded.keys() == {"AAPL", "MSFT"} and loaded["AAPL"] == loaded["MSFT"] > 0
    assert runs == {"AAPL": "success", "MSFT": "success"}
    assert held == {"AAPL": 15.0, "MSFT": 15.0}
    assert cash == pytest.approx(initial - spent)  # every order saw the other process's cash: no lost update
