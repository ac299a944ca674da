"""Signal validation backfill: intraday bars map to their session, too-recent signals stay pending."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from portfolio.database_manager import DatabaseManager
from portfolio.signal_validation import backfill, hit_rates
from tests.trading_support import seed_ohlcv

pytestmark = pytest.mark.usefixtures("db_backend")  # each test on SQLite and on PostgreSQL


def test_intraday_bar_uses_its_session_close(pmx_home: Path) -> None:
    db = DatabaseManager()
    dates = seed_ohlcv(db, "AAPL", [100.0, 102.0, 99.0, 104.0])
    with db.transaction() as conn:
        conn.executemany("INSERT INTO signals (run_id, ticker, bar, created_at, action, confidence, "
                         "expected_return, source) VALUES ('r', 'AAPL', ?, 't', ?, 0.6, 0.01, 'time_series')",
                         [(f"{dates[0]}T15:30:00Z", "BUY"), (dates[2], "SELL")])
    out = backfill(db, 2)
    assert (out["filled"], out["pending"], out["tickers"]) == (1, 1, ["AAPL"])
    conn = db.connect()
    try:
        realized = conn.execute("SELECT realized_return FROM signals WHERE action = 'BUY'").fetchone()[0]
        rates = hit_rates(conn)
    finally:
        conn.close()
    assert realized == pytest.approx(math.log(99.0 / 100.0))
    assert (rates["scored"], rates["hits"], rates["hit_rate"]) == (1, 0, 0.0)


def test_horizon_must_be_positive(pmx_home: Path) -> None:
    with pytest.raises(ValueError, match="horizon=0"):
        backfill(DatabaseManager(), 0)
