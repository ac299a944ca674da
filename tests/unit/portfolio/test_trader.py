"""Auto-trader cycle: bar-awareness, stored vs computed forecasts, fallback, core-mode gating, run_cycle."""

from __future__ import annotations

from pathlib import Path

import pytest

from portfolio.database_manager import DatabaseManager
from portfolio.params import ParameterError, resolve
from portfolio.settings import PipelineSettings, load_settings
from portfolio.trader import TradingError, run_cycle, trade_ticker
from tests.trading_support import (
    StatsdSink,
    count_rows,
    override_config,
    random_walk,
    seed_ensemble_forecast,
    seed_ohlcv,
)

pytestmark = pytest.mark.usefixtures("db_backend")  # each test on SQLite and on PostgreSQL

TABLES = ("signals", "trades", "positions", "account", "equity_snapshots", "bar_state", "forecasts",
          "forecast_metrics")


def settings_with(core_limit: int = 4, **forecasting: object) -> PipelineSettings:
    base = load_settings()
    return base.model_copy(update={
        "forecasting": base.forecasting.model_copy(update=forecasting),
        "broker": base.broker.model_copy(update={"core_max_trades_per_day": core_limit})})


def market(db: DatabaseManager, *tickers: str, n: int = 160) -> list[str]:
    dates: list[str] = []
    for i, t in enumerate(tickers):
        dates = seed_ohlcv(db, t, random_walk(n, seed=i + 1), first="2024-01-02")
    return dates


def test_second_cycle_on_the_same_bar_writes_nothing(pmx_home: Path) -> None:
    db = DatabaseManager()
    dates = market(db, "AAPL")
    seed_ensemble_forecast(db, "AAPL", dates[-1], "etl-1", expected_return=0.02, confidence=0.9)
    first = trade_ticker(db, "AAPL", "run-1")
    assert (first["action"], first["source"], first["forecast"], first["order"]) == (
        "BUY", "time_series", "stored", "filled")
    assert first["bar"] == dates[-1] and first["trade_id"] and first["signal_id"]
    before = count_rows(db, *TABLES)
    assert before["trades"] == 1 and before["bar_state"] == 1 and before["equity_snapshots"] == 1
    second = trade_ticker(db, "AAPL", "run-2")
    assert second == {"ticker": "AAPL", "bar": dates[-1], "mode": "standard", "skipped": "same bar"}
    assert count_rows(db, *TABLES) == before


def test_a_new_bar_trades_again(pmx_home: Path) -> None:
    db = DatabaseManager()
    dates = market(db, "AAPL")
    seed_ensemble_forecast(db, "AAPL", dates[-1], "etl-1", expected_return=0.02, confidence=0.9)
    trade_ticker(db, "AAPL", "run-1")
    seed_ohlcv(db, "AAPL", [95.0], first="2025-01-02")
    seed_ensemble_forecast(db, "AAPL", "2025-01-02", "etl-2", expected_return=-0.02, confidence=0.9)
    out = trade_ticker(db, "AAPL", "run-2")
    assert (out["bar"], out["action"], out["order"]) == ("2025-01-02", "SELL", "filled")
    assert count_rows(db, "trades", "positions") == {"trades": 2, "positions": 0}


def test_forecast_is_computed_when_none_exists_for_the_bar(pmx_home: Path) -> None:
    db = DatabaseManager()
    dates = market(db, "AAPL")
    seed_ensemble_forecast(db, "AAPL", dates[-2], "old", expected_return=0.5, confidence=1.0)  # a stale bar
    out = trade_ticker(db, "AAPL", "run-1", settings=settings_with(models=["ssa"]))
    assert (out["forecast"], out["source"]) == ("computed", "time_series")
    conn = db.connect()
    try:
        stored = conn.execute("SELECT COUNT(*), MIN(as_of) FROM forecasts WHERE run_id = 'run-1'").fetchone()
    finally:
        conn.close()
    assert tuple(stored) == (10, dates[-1])  # ssa + ensemble, 5 steps each, for the current bar


def test_fallback_when_no_usable_forecast(pmx_home: Path) -> None:
    db = DatabaseManager()
    market(db, "AAPL", n=40)  # below forecasting.min_history
    out = trade_ticker(db, "AAPL", "run-1")
    assert out["source"] == "fallback" and out["forecast"].startswith("unavailable: AAPL: 40 rows of history")
    assert out["action"] in ("BUY", "SELL", "HOLD") and count_rows(db, "signals")["signals"] == 1


def test_sell_signal_without_position_is_rejected_but_the_bar_is_consumed(pmx_home: Path) -> None:
    db = DatabaseManager()
    dates = market(db, "AAPL")
    seed_ensemble_forecast(db, "AAPL", dates[-1], "etl-1", expected_return=-0.02, confidence=0.9)
    out = trade_ticker(db, "AAPL", "run-1")
    assert (out["action"], out["order"]) == ("SELL", "rejected")
    assert out["reason"] == "no position to sell (no shorting)"
    assert count_rows(db, "trades", "bar_state") == {"trades": 0, "bar_state": 1}
    assert trade_ticker(db, "AAPL", "run-2")["skipped"] == "same bar"


def test_core_mode_trade_count_gating(pmx_home: Path) -> None:
    db = DatabaseManager()
    dates = market(db, "AAPL", "MSFT")
    for t in ("AAPL", "MSFT"):
        seed_ensemble_forecast(db, t, dates[-1], "etl-1", expected_return=0.02, confidence=0.9)
    settings = settings_with(core_limit=1)
    assert trade_ticker(db, "AAPL", "core-1", core_mode=True, settings=settings)["order"] == "filled"
    before = count_rows(db, *TABLES)
    gated = trade_ticker(db, "MSFT", "core-1", core_mode=True, settings=settings)
    assert gated["skipped"] == f"core trade limit reached (1/1 on {dates[-1]})"
    assert count_rows(db, *TABLES) == before
    standard = trade_ticker(db, "MSFT", "std-1", settings=settings)  # the cap is for core mode only
    assert standard["order"] == "filled"
    seed_ohlcv(db, "MSFT", [101.0], first="2025-01-02")  # a new day resets the count
    seed_ensemble_forecast(db, "MSFT", "2025-01-02", "etl-2", expected_return=0.02, confidence=0.9)
    assert "skipped" not in trade_ticker(db, "MSFT", "core-2", core_mode=True, settings=settings)


def test_no_data_is_an_error_naming_the_ticker(pmx_home: Path) -> None:
    with pytest.raises(TradingError, match="NVDA: no bars in ohlcv"):
        trade_ticker(DatabaseManager(), "NVDA", "run-1")


def test_run_cycle_counts_and_is_bar_aware(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = DatabaseManager()
    dates = market(db, "AAPL", "MSFT")
    seed_ensemble_forecast(db, "AAPL", dates[-1], "etl-1", expected_return=0.02, confidence=0.9)
    seed_ensemble_forecast(db, "MSFT", dates[-1], "etl-1", expected_return=0.0, confidence=0.9)
    sink = StatsdSink(monkeypatch)
    try:
        first = run_cycle(resolve(tickers="AAPL,MSFT"), "cycle-1")
        lines = sink.lines()
    finally:
        sink.close()
    assert (first["tickers"], first["traded"], first["skipped"]) == (2, 1, 0)
    assert first["signals"] == {"BUY": 1, "HOLD": 1} and first["errors"] == {}
    assert any(line.startswith("pmx.trading.last_cycle:") for line in lines)
    second = run_cycle(resolve(tickers="AAPL,MSFT"), "cycle-2")
    assert (second["traded"], second["skipped"]) == (0, 2)


def test_run_cycle_core_mode_trades_only_core_tickers(pmx_home: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    override_config(pmx_home, monkeypatch, {"tickers": {"core": ["AAPL"]}})
    db = DatabaseManager()
    dates = market(db, "AAPL", "GOOGL")
    for t in ("AAPL", "GOOGL"):
        seed_ensemble_forecast(db, t, dates[-1], "etl-1", expected_return=0.02, confidence=0.9)
    out = run_cycle(resolve(tickers="AAPL,GOOGL", core=True), "core-1", core_mode=True)
    assert (out["mode"], out["tickers"], out["excluded"], out["traded"]) == ("core", 1, ["GOOGL"], 1)
    with pytest.raises(ParameterError, match=r"none of GOOGL is in tickers\.core"):
        run_cycle(resolve(tickers="GOOGL"), "core-2", core_mode=True)


def test_run_cycle_fails_naming_the_bad_ticker_after_trading_the_others(pmx_home: Path) -> None:
    db = DatabaseManager()
    dates = market(db, "AAPL")
    seed_ensemble_forecast(db, "AAPL", dates[-1], "etl-1", expected_return=0.02, confidence=0.9)
    with pytest.raises(TradingError, match=r"1 of 2 tickers failed: NVDA: TradingError: NVDA: no bars"):
        run_cycle(resolve(tickers="AAPL,NVDA"), "cycle-1")
    assert count_rows(db, "trades")["trades"] == 1
