"""The backtest beside the live trades: the configured rule on the stored panel, cached per bars and settings."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from monitoring.report_backtest import CACHE_NAME, backtest_section
from portfolio.costs import CostModel
from portfolio.database_manager import DatabaseManager
from portfolio.settings import load_settings
from tests.trading_support import random_walk, seed_ensemble_forecast, seed_ohlcv

HORIZON = 5
# (ticker, bar index of the forecast, expected return, confidence)
FORECASTS = [("AAPL", i, er, conf) for i, er, conf in ((5, 0.01, 0.9), (10, 0.02, 0.8), (15, -0.01, 0.9),
                                                        (20, 0.01, 0.3))] + \
            [("MSFT", i, er, conf) for i, er, conf in ((5, 0.004, 0.7), (10, 0.001, 0.9), (20, 0.03, 0.95))]


def _seed(db: DatabaseManager) -> dict[str, tuple[list[str], list[float]]]:
    series = {}
    for n, ticker in enumerate(("AAPL", "MSFT")):
        closes = [float(c) for c in random_walk(40, seed=n + 3)]
        series[ticker] = (seed_ohlcv(db, ticker, closes), closes)
    for ticker, i, er, conf in FORECASTS:
        seed_ensemble_forecast(db, ticker, series[ticker][0][i], f"run{i}", expected_return=er, confidence=conf)
    return series


def _expected(series: dict[str, tuple[list[str], list[float]]]) -> tuple[list[tuple[str, float]], dict[str, float]]:
    """The rule by hand: BUY when confident and expected return large enough, hold the horizon, pay costs."""
    settings = load_settings()
    cash, fraction = settings.broker.initial_cash, settings.broker.max_position_fraction
    cost = CostModel.from_settings(settings.costs)
    per_date: dict[str, float] = {}
    pnl: dict[str, float] = {}
    for ticker, i, er, conf in FORECASTS:
        dates, closes = series[ticker]
        buy = conf >= settings.signals.confidence_threshold and er >= settings.signals.min_expected_return and er > 0
        ret = (math.expm1(math.log(closes[i + HORIZON] / closes[i]))
               - cost.round_trip_fraction(fraction * cash, closes[i])) if buy else 0.0
        per_date[dates[i]] = per_date.get(dates[i], 0.0) + fraction * ret
        pnl[ticker] = pnl.get(ticker, 0.0) + fraction * cash * ret
    equity, curve = cash, []
    for day in sorted(per_date):
        equity *= 1 + per_date[day]
        curve.append((day, equity))
    return curve, pnl


def test_backtest_curve_and_pnl_by_ticker_match_the_rule(pmx_home: Path, tmp_path: Path) -> None:
    db = DatabaseManager()
    series = _seed(db)
    settings = load_settings()
    assert settings.forecasting.horizon == HORIZON
    conn = db.connect()
    try:
        section = backtest_section(db, conn, settings, tmp_path, origins=0)
    finally:
        conn.close()
    curve, pnl = _expected(series)
    assert [p["as_of"] for p in section["curve"]] == [d for d, _ in curve]
    assert [p["equity"] for p in section["curve"]] == pytest.approx([e for _, e in curve])
    assert {t: v["pnl"] for t, v in section["by_ticker"].items()} == pytest.approx(pnl)
    assert section["tickers"] == ["AAPL", "MSFT"]  # the default tickers that have bars
    assert section["rows"] == len(FORECASTS) and section["origins"] == {"stored": len(FORECASTS)}
    peak = max(e for _, e in curve)
    assert min(p["drawdown"] for p in section["curve"]) == pytest.approx(
        min(e / max(x for _, x in curve[: k + 1]) - 1 for k, (_, e) in enumerate(curve)))
    assert section["curve"][-1]["drawdown"] == pytest.approx(curve[-1][1] / peak - 1)
    assert section["cached"] is False and (tmp_path / CACHE_NAME).is_file()


def test_the_backtest_is_cached_until_a_bar_arrives(pmx_home: Path, tmp_path: Path) -> None:
    db = DatabaseManager()
    series = _seed(db)
    settings = load_settings()

    def section() -> dict:
        conn = db.connect()
        try:
            return backtest_section(db, conn, settings, tmp_path, origins=0)
        finally:
            conn.close()

    first = section()
    again = section()
    assert again["cached"] is True and again["curve"] == first["curve"]
    _, closes = series["AAPL"]
    seed_ohlcv(db, "AAPL", [*closes, closes[-1] * 1.01])  # one more bar
    assert section()["cached"] is False


def test_no_market_data_is_a_note(pmx_home: Path, tmp_path: Path) -> None:
    db = DatabaseManager()
    conn = db.connect()
    try:
        section = backtest_section(db, conn, load_settings(), tmp_path)
    finally:
        conn.close()
    assert section["curve"] == [] and "no market data yet" in section["note"]
