"""Signal routing: time-series thresholds, the documented fallback, persistence with the source."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from portfolio.database_manager import DatabaseManager
from portfolio.signals import (
    BUY,
    FALLBACK,
    FALLBACK_MAX_CONFIDENCE,
    HOLD,
    SELL,
    TIME_SERIES,
    decide,
    fallback_signal,
    route_signal,
    save_signal,
    usable_forecast,
)


@pytest.mark.parametrize(("expected", "confidence", "threshold", "min_return", "action"), [
    (0.003, 0.60, 0.55, 0.002, BUY),
    (0.002, 0.55, 0.55, 0.002, BUY),          # both thresholds are inclusive
    (0.0019, 0.90, 0.55, 0.002, HOLD),        # return just below the minimum
    (0.003, 0.5499, 0.55, 0.002, HOLD),       # confidence just below the threshold
    (-0.003, 0.60, 0.55, 0.002, SELL),
    (-0.002, 0.55, 0.55, 0.002, SELL),
    (-0.0019, 0.90, 0.55, 0.002, HOLD),
    (0.0, 0.99, 0.55, 0.0, HOLD),             # no direction, even with a zero minimum
    (0.0001, 0.99, 0.55, 0.0, BUY),
    (0.003, 0.10, 0.0, 0.002, BUY),           # a zero threshold lets any confidence through
    (float("nan"), 0.9, 0.55, 0.002, HOLD),
    (0.01, float("nan"), 0.55, 0.002, HOLD),
], ids=["buy", "buy-at-both-thresholds", "return-below-min", "confidence-below", "sell", "sell-at-thresholds",
        "negative-above-min", "flat-zero-min", "tiny-up-zero-min", "zero-threshold", "nan-return",
        "nan-confidence"])
def test_decide_thresholds(expected: float, confidence: float, threshold: float, min_return: float,
                           action: str) -> None:
    got = decide(expected, confidence, confidence_threshold=threshold, min_expected_return=min_return)
    assert got == action


@pytest.mark.parametrize(("forecast", "usable"), [
    ({"expected_return": 0.01, "confidence": 0.6}, True),
    ({"expected_return": 0.01, "confidence": 1.2}, False),
    ({"expected_return": None, "confidence": 0.6}, False),
    ({"expected_return": float("inf"), "confidence": 0.6}, False),
    (None, False),
], ids=["ok", "confidence-out-of-range", "missing-return", "infinite", "none"])
def test_usable_forecast(forecast: dict | None, usable: bool) -> None:
    assert usable_forecast(forecast) is usable


def _trend(n: int, step: float) -> list[float]:
    noise = np.random.default_rng(1).normal(0, 0.002, n)
    return list(100 * np.exp(np.cumsum(step + noise)))


@pytest.mark.parametrize(("closes", "action"), [
    (_trend(30, 0.004), BUY),
    (_trend(30, -0.004), SELL),
    ([100.0] * 30, HOLD),
    ([*_trend(29, 0.0), 130.0], HOLD),  # a spike: momentum up but over-extended (z >= 2)
    (_trend(10, 0.01), HOLD),           # too short
], ids=["up-trend", "down-trend", "flat", "over-extended", "short-history"])
def test_fallback_rule(closes: list[float], action: str) -> None:
    sig = fallback_signal("AAPL", "2024-01-05", closes, horizon=5, min_expected_return=0.002)
    assert sig.action == action and sig.source == FALLBACK
    assert 0.0 <= sig.confidence <= FALLBACK_MAX_CONFIDENCE


def test_route_prefers_a_usable_forecast_and_falls_back_otherwise() -> None:
    closes = _trend(30, -0.004)
    ts = route_signal("AAPL", "b", {"expected_return": 0.01, "confidence": 0.8}, closes, horizon=5,
                      confidence_threshold=0.55, min_expected_return=0.002)
    assert (ts.action, ts.source, ts.expected_return, ts.confidence) == (BUY, TIME_SERIES, 0.01, 0.8)
    fb = route_signal("AAPL", "b", {"expected_return": math.nan, "confidence": 0.8}, closes, horizon=5,
                      confidence_threshold=0.55, min_expected_return=0.002)
    assert (fb.action, fb.source) == (SELL, FALLBACK)


def test_thresholds_are_arguments_so_a_sweep_can_vary_them() -> None:
    fc = {"expected_return": 0.004, "confidence": 0.5}
    strict = route_signal("A", "b", fc, [], horizon=5, confidence_threshold=0.55, min_expected_return=0.002)
    loose = route_signal("A", "b", fc, [], horizon=5, confidence_threshold=0.45, min_expected_return=0.002)
    assert (strict.action, loose.action) == (HOLD, BUY)


@pytest.mark.usefixtures("db_backend")  # on SQLite and on PostgreSQL
def test_save_signal_persists_with_source(pmx_home: Path) -> None:
    db = DatabaseManager()
    sig = fallback_signal("MSFT", "2024-01-05", _trend(30, 0.004), horizon=5, min_expected_return=0.002)
    with db.transaction() as conn:
        sig_id = save_signal(conn, sig, "run-1")
    conn = db.connect()
    try:
        row = conn.execute("SELECT run_id, ticker, bar, action, source, confidence, realized_return "
                           "FROM signals WHERE id = ?", (sig_id,)).fetchone()
    finally:
        conn.close()
    assert tuple(row) == ("run-1", "MSFT", "2024-01-05", BUY, FALLBACK, sig.confidence, None)
