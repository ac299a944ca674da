"""Transaction costs: the per-fill model and realised-cost estimation from trades."""

from __future__ import annotations

from pathlib import Path

import pytest

from portfolio.costs import CostModel, asset_class, estimate_costs_from_trades
from portfolio.database_manager import DatabaseManager
from portfolio.settings import load_settings

MODEL = CostModel(commission_per_share=0.005, min_commission=1.0, spread_bps=2.0, slippage_bps=1.0)


@pytest.mark.parametrize(("qty", "price", "expected"), [
    (100, 50.0, 1.0 + 5000 * 2e-4),      # minimum commission applies (100 x 0.005 = 0.5 < 1)
    (1000, 50.0, 5.0 + 50000 * 2e-4),    # per-share commission applies
    (200, 10.0, 1.0 + 2000 * 2e-4),      # exactly at the minimum (200 x 0.005 = 1.0)
    (0, 50.0, 0.0),                      # nothing filled, nothing paid
], ids=["min-commission", "per-share", "at-minimum", "zero"])
def test_fill_cost(qty: float, price: float, expected: float) -> None:
    # half the 2 bps spread plus 1 bps slippage = 2 bps of notional
    assert MODEL.fill_cost(qty, price) == pytest.approx(expected)


def test_cost_bps_and_round_trip() -> None:
    assert MODEL.cost_bps(1000, 50.0) == pytest.approx(10_000 * 15.0 / 50_000)
    assert MODEL.round_trip_fraction(10_000, 100.0) == pytest.approx(2 * 3.0 / 10_000)


@pytest.mark.parametrize("cash", [0.0, 50.0, 1_001.0, 10_000.0, 123_456.78], ids=str)
def test_max_affordable_fits_the_cash_exactly(cash: float) -> None:
    qty = MODEL.max_affordable(cash, 25.0)
    assert qty * 25.0 + MODEL.fill_cost(qty, 25.0) <= cash
    assert (qty + 1) * 25.0 + MODEL.fill_cost(qty + 1, 25.0) > cash


def test_model_from_settings_uses_the_costs_section() -> None:
    cfg = load_settings().costs
    model = CostModel.from_settings(cfg)
    assert (model.commission_per_share, model.min_commission, model.spread_bps, model.slippage_bps) == (
        cfg.commission_per_share, cfg.min_commission, cfg.spread_bps, cfg.slippage_bps)


@pytest.mark.parametrize(("ticker", "cls"), [("AAPL", "equity"), ("SPY", "etf"), ("BTC-USD", "crypto")])
def test_asset_class(ticker: str, cls: str) -> None:
    assert asset_class(ticker) == cls


@pytest.mark.usefixtures("db_backend")  # on SQLite and on PostgreSQL
def test_estimate_costs_from_trades(pmx_home: Path) -> None:
    db = DatabaseManager()
    rows = [("AAPL", 100, 100.0, 3.0), ("AAPL", 100, 110.0, 3.2), ("SPY", 10, 400.0, 1.8)]
    with db.transaction() as conn:
        conn.executemany("INSERT INTO trades (run_id, ticker, bar, ts, side, quantity, price, cost) "
                         "VALUES ('r', ?, '2024-01-02', '2024-01-02T15:00:00Z', 'BUY', ?, ?, ?)", rows)
    est = estimate_costs_from_trades(db)
    aapl = est["by_ticker"]["AAPL"]
    assert aapl["trades"] == 2 and aapl["notional"] == 21_000 and aapl["asset_class"] == "equity"
    assert aapl["cost_bps"] == pytest.approx(6.2 / 21_000 * 1e4, abs=1e-4)  # reported to 4 decimals
    assert est["by_asset_class"]["etf"]["cost_bps"] == pytest.approx(1.8 / 4_000 * 1e4, abs=1e-4)
    assert est["overall"] == {"trades": 3, "notional": 25_000, "cost": 8.0, "cost_bps": pytest.approx(3.2)}


@pytest.mark.usefixtures("db_backend")  # on SQLite and on PostgreSQL
def test_estimate_costs_without_trades(pmx_home: Path) -> None:
    est = estimate_costs_from_trades(DatabaseManager())
    assert est["by_ticker"] == {} and est["overall"]["cost_bps"] is None and est["overall"]["trades"] == 0
