"""Sleeve maintenance: rank tickers into core / speculative / inactive sleeves by recent performance.

Per ticker, over its last ``lookback`` closes: annualised return and volatility, Sharpe, max drawdown of
the close, plus the paper account's realised PnL and closing-trade win rate for it and the latest ensemble
holdout MAPE. **Core** candidates have Sharpe >= ``min_sharpe`` and drawdown <= ``max_drawdown``; the best
``core_size`` by Sharpe form the core sleeve. Other tickers with at least half of ``lookback`` bars are
**speculative**; the rest are **inactive**. The result is a proposal: nothing in config is changed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from portfolio.forecasting.store import load_closes
from portfolio.quant_health import equity_returns, max_drawdown, sharpe

if TYPE_CHECKING:
    from portfolio.database_manager import DatabaseManager
    from portfolio.db_backend import Connection


def ticker_stats(conn: Connection, ticker: str, lookback: int,
                 periods_per_year: int) -> dict[str, Any]:
    """Return, volatility, Sharpe and drawdown of the last ``lookback`` closes plus paper-trading results."""
    closes = [c for _, c in load_closes(conn, ticker, lookback)]
    rets = equity_returns(closes)
    mean = sum(rets) / len(rets) if rets else 0.0
    vol = math.sqrt(sum((r - mean) ** 2 for r in rets) / (len(rets) - 1)) if len(rets) > 1 else 0.0
    trades = conn.execute("SELECT COUNT(*), SUM(realized_pnl), SUM(CASE WHEN realized_pnl > 0 THEN 1 ELSE 0 END) "
                          "FROM trades WHERE ticker = ? AND side = 'SELL' AND realized_pnl IS NOT NULL",
                          (ticker,)).fetchone()
    mape = conn.execute("SELECT mape FROM forecast_metrics WHERE ticker = ? AND model = 'ensemble' "
                        "ORDER BY created_at DESC LIMIT 1", (ticker,)).fetchone()
    return {"bars": len(closes), "annual_return": round(mean * periods_per_year, 6),
            "annual_volatility": round(vol * math.sqrt(periods_per_year), 6),
            "sharpe": round(sharpe(rets, periods_per_year), 6),
            "max_drawdown": round(max_drawdown(closes), 6),
            "closed_trades": int(trades[0]), "realized_pnl": round(float(trades[1] or 0.0), 4),
            "win_rate": round(trades[2] / trades[0], 6) if trades[0] else None,
            "ensemble_mape": None if mape is None or mape[0] is None else round(float(mape[0]), 6)}


def propose_sleeves(db: DatabaseManager, universe: Sequence[str], current_core: Sequence[str], *,
                    lookback: int, min_sharpe: float, max_drawdown_limit: float, core_size: int,
                    periods_per_year: int = 252) -> dict[str, Any]:
    """Sleeves for ``universe``, with promotions into and demotions out of ``current_core``."""
    conn = db.connect()
    try:
        stats = {t: ticker_stats(conn, t, lookback, periods_per_year) for t in universe}
    finally:
        conn.close()
    active = [t for t, s in stats.items() if s["bars"] >= lookback // 2]
    eligible = [t for t in active
                if stats[t]["sharpe"] >= min_sharpe and stats[t]["max_drawdown"] <= max_drawdown_limit]
    core = sorted(eligible, key=lambda t: (-stats[t]["sharpe"], t))[:core_size]
    sleeves = {"core": core, "speculative": sorted(t for t in active if t not in core),
               "inactive": sorted(t for t in universe if t not in active)}
    return {"lookback": lookback, "min_sharpe": min_sharpe, "max_drawdown": max_drawdown_limit,
            "core_size": core_size, "current_core": list(current_core), "sleeves": sleeves,
            "promotions": [t for t in core if t not in current_core],
            "demotions": [t for t in current_core if t not in core], "tickers": stats}
