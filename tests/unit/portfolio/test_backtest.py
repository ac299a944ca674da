"""Vectorised backtest of the signal rule: long-only arithmetic, costs, sweep selection, seeded search."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from portfolio.backtest import PANEL_COLUMNS, build_panel, equity_path, evaluate, random_search, sweep
from portfolio.costs import CostModel
from portfolio.database_manager import DatabaseManager
from portfolio.settings import load_settings
from tests.trading_support import random_walk, seed_ensemble_forecast, seed_ohlcv

FREE = CostModel(0.0, 0.0, 0.0, 0.0)
COSTS = CostModel(0.005, 1.0, 2.0, 1.0)


def panel() -> pd.DataFrame:
    rows = [("A", "d1", 100.0, 0.01, 0.9, 0.02, "t"),     # BUY, right
            ("A", "d2", 100.0, -0.01, 0.9, -0.01, "t"),   # SELL, right (long-only: stays flat)
            ("B", "d1", 100.0, 0.01, 0.3, -0.05, "t"),    # not confident: HOLD
            ("B", "d2", 100.0, 0.001, 0.9, 0.03, "t")]    # below the minimum return: HOLD
    return pd.DataFrame(rows, columns=PANEL_COLUMNS)


def test_evaluate_long_only_arithmetic() -> None:
    out = evaluate(panel(), 0.5, 0.002, cost_model=FREE, notional=10_000)
    assert (out["trades"], out["signals"], out["hit_rate"]) == (1, 2, 1.0)
    assert out["total_return"] == pytest.approx(math.expm1(0.02), abs=1e-6)
    assert out["max_drawdown"] == 0.0


def test_evaluate_charges_the_round_trip_cost() -> None:
    out = evaluate(panel(), 0.5, 0.002, cost_model=COSTS, notional=10_000)
    # 100 shares at 100: 1.0 commission + 2 bps of 10_000 per fill = 3.0, twice = 6 bps of the notional
    assert out["mean_trade_return"] == pytest.approx(math.expm1(0.02) - 0.0006, abs=1e-6)


def test_lower_thresholds_take_the_bad_trades_too() -> None:
    out = evaluate(panel(), 0.0, 0.0, cost_model=FREE, notional=10_000)
    assert (out["trades"], out["hit_rate"]) == (3, pytest.approx(3 / 4))
    assert out["max_drawdown"] > 0


def test_sweep_picks_the_best_eligible_pair() -> None:
    result = sweep(panel(), [0.0, 0.5], [0.0, 0.002], cost_model=FREE, notional=10_000, min_trades=1)
    assert len(result["grid"]) == 4 and result["eligible"] == 4
    assert result["best"]["confidence_threshold"] == 0.5
    none = sweep(panel(), [0.5], [0.002], cost_model=FREE, notional=10_000, min_trades=5)
    assert none["best"] is None and none["eligible"] == 0


def test_random_search_is_reproducible() -> None:
    kwargs = {"trials": 25, "cost_model": FREE, "initial_cash": 100_000.0, "max_drawdown": 0.25,
              "min_trades": 1}
    first = random_search(panel(), seed=3, **kwargs)
    assert first == random_search(panel(), seed=3, **kwargs)
    assert first["best"] is not None
    assert first["best"]["objective"] == max(t["objective"] for t in first["top"])


@pytest.mark.usefixtures("db_backend")  # on SQLite and on PostgreSQL
def test_build_panel_joins_stored_forecasts_with_realised_returns(pmx_home: Path) -> None:
    db = DatabaseManager()
    closes = random_walk(30, seed=1)
    dates = seed_ohlcv(db, "AAPL", closes)
    seed_ensemble_forecast(db, "AAPL", dates[3], "new", expected_return=0.01, confidence=0.7,
                           created_at="2024-02-01T00:00:00Z")
    seed_ensemble_forecast(db, "AAPL", dates[3], "old", expected_return=-0.5, confidence=0.1,
                           created_at="2024-01-01T00:00:00Z")
    seed_ensemble_forecast(db, "AAPL", dates[-2], "late", expected_return=0.01, confidence=0.7)  # unrealised
    frame = build_panel(db, ["AAPL"], load_settings(), origins=0)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["as_of"], row["origin"]) == (dates[3], "stored")
    assert row["expected_return"] == pytest.approx(0.01)  # the later run for the bar wins
    assert row["realized_return"] == pytest.approx(math.log(closes[8] / closes[3]))


def test_equity_path_compounds_per_date_and_sums_pnl_per_ticker() -> None:
    rows = [("A", "d1", 100.0, 0.01, 0.9, 0.02, "t"), ("B", "d1", 50.0, 0.01, 0.9, -0.01, "t"),
            ("A", "d2", 100.0, 0.01, 0.9, 0.03, "t"), ("B", "d2", 50.0, 0.001, 0.9, 0.05, "t")]
    frame = pd.DataFrame(rows, columns=PANEL_COLUMNS)
    out = equity_path(frame, 0.5, 0.002, cost_model=FREE, initial_cash=1_000.0, position_fraction=0.1)
    d1 = 0.1 * (math.expm1(0.02) + math.expm1(-0.01))  # both BUY on d1
    d2 = 0.1 * math.expm1(0.03)  # B is below the minimum return on d2: flat
    assert [p["as_of"] for p in out["curve"]] == ["d1", "d2"]
    assert [p["trades"] for p in out["curve"]] == [2, 1]
    assert out["curve"][-1]["equity"] == pytest.approx(1_000.0 * (1 + d1) * (1 + d2))
    assert out["by_ticker"]["A"]["pnl"] == pytest.approx(100.0 * (math.expm1(0.02) + math.expm1(0.03)))
    assert out["by_ticker"]["B"] == {"rows": 2, "trades": 1, "pnl": pytest.approx(100.0 * math.expm1(-0.01))}
    summary = evaluate(frame, 0.5, 0.002, cost_model=FREE, notional=100.0, position_fraction=0.1)
    assert out["curve"][-1]["equity"] / 1_000.0 - 1 == pytest.approx(summary["total_return"], abs=1e-6)
