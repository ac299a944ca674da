"""Quant validation health: performance metrics from the paper account and a GREEN / YELLOW / RED colour.

Metrics: the equity curve is the last snapshot of each bar (``equity_snapshots.bar``; the snapshot's UTC day
when ``bar`` is empty), returns are bar-to-bar; Sharpe and Sortino are annualised with
``quant_health.periods_per_year`` (zero risk-free rate; Sortino's downside deviation is the root mean square
of the negative returns); max drawdown is the largest peak-to-trough fall of the curve, as a fraction; win
rate and profit factor come from closing trades (sells with realised PnL).

Classification, thresholds inclusive (``>=`` for minimums, ``<=`` for the drawdown):

* fewer than ``quant_health.min_trades`` closing trades -> **YELLOW** ("insufficient evidence"), whatever
  the other numbers say: too few trades can neither pass nor fail a strategy;
* every ``green`` threshold met -> **GREEN**; else every ``yellow`` threshold met -> **YELLOW**; else **RED**.

The reasons list every threshold the colour missed (or the trade-count reason).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portfolio.database_manager import DatabaseManager
    from portfolio.settings import HealthTier, PipelineSettings, QuantHealth

GREEN, YELLOW, RED = "GREEN", "YELLOW", "RED"
LEVEL = {GREEN: 0, YELLOW: 1, RED: 2}


def equity_returns(equity: Sequence[float]) -> list[float]:
    """Simple returns between consecutive equity values."""
    return [b / a - 1.0 for a, b in itertools.pairwise(equity) if a > 0]


def sharpe(returns: Sequence[float], periods_per_year: int) -> float:
    """Annualised Sharpe ratio (zero risk-free rate); 0 when there is no variation."""
    if len(returns) < 2:
        return 0.0
    mean = sum(returns) / len(returns)
    var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    return 0.0 if var <= 0 else mean / math.sqrt(var) * math.sqrt(periods_per_year)


def sortino(returns: Sequence[float], periods_per_year: int) -> float:
    """Annualised Sortino ratio; +inf when the mean is positive and no return is negative."""
    if len(returns) < 2:
        return 0.0
    mean = sum(returns) / len(returns)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    if downside == 0:
        return math.inf if mean > 0 else 0.0
    return mean / downside * math.sqrt(periods_per_year)


def max_drawdown(equity: Sequence[float]) -> float:
    """Largest peak-to-trough decline of ``equity`` as a fraction of the peak (0 for a rising curve)."""
    peak, worst = -math.inf, 0.0
    for v in equity:
        peak = max(peak, v)
        if peak > 0:
            worst = max(worst, (peak - v) / peak)
    return worst


def trade_stats(pnls: Sequence[float]) -> dict[str, Any]:
    """Win rate and profit factor of closing-trade PnLs (profit factor None when there are no losses)."""
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_loss = -sum(losses)
    return {"closed_trades": len(pnls), "win_rate": len(wins) / len(pnls) if pnls else 0.0,
            "profit_factor": (sum(wins) / gross_loss) if gross_loss > 0 else None}


def compute_metrics(db: DatabaseManager, periods_per_year: int = 252) -> dict[str, Any]:
    """Sharpe, Sortino, max drawdown, win rate, profit factor and trade counts from the database."""
    conn = db.connect()
    try:
        curve = [float(r[0]) for r in conn.execute(
            "SELECT equity FROM (SELECT COALESCE(bar, substr(ts, 1, 10)) AS b, equity, "
            "ROW_NUMBER() OVER (PARTITION BY COALESCE(bar, substr(ts, 1, 10)) ORDER BY ts DESC) AS rn "
            "FROM equity_snapshots) AS last_per_bar WHERE rn = 1 ORDER BY b").fetchall()]
        pnls = [float(r[0]) for r in conn.execute(
            "SELECT realized_pnl FROM trades WHERE side = 'SELL' AND realized_pnl IS NOT NULL ORDER BY id")]
        trade_count = int(conn.execute("SELECT COUNT(*) FROM trades").fetchone()[0])
    finally:
        conn.close()
    rets = equity_returns(curve)
    return {"sharpe": sharpe(rets, periods_per_year), "sortino": sortino(rets, periods_per_year),
            "max_drawdown": max_drawdown(curve), **trade_stats(pnls), "trade_count": trade_count,
            "bars": len(curve)}


def _misses(m: dict[str, Any], tier: HealthTier, name: str) -> list[str]:
    out = []
    if m["sharpe"] < tier.min_sharpe:
        out.append(f"sharpe {m['sharpe']:.3f} < {name} min_sharpe {tier.min_sharpe}")
    if m["sortino"] < tier.min_sortino:
        out.append(f"sortino {m['sortino']:.3f} < {name} min_sortino {tier.min_sortino}")
    if m["max_drawdown"] > tier.max_drawdown:
        out.append(f"max_drawdown {m['max_drawdown']:.3f} > {name} max_drawdown {tier.max_drawdown}")
    if m["win_rate"] < tier.min_win_rate:
        out.append(f"win_rate {m['win_rate']:.3f} < {name} min_win_rate {tier.min_win_rate}")
    return out


def classify(metrics: dict[str, Any], cfg: QuantHealth) -> tuple[str, list[str]]:
    """The colour for ``metrics`` under the ``quant_health`` thresholds, and the reasons for it."""
    if metrics["closed_trades"] < cfg.min_trades:
        return YELLOW, [f"only {metrics['closed_trades']} closed trades (< quant_health.min_trades "
                        f"{cfg.min_trades}): insufficient evidence"]
    green_misses = _misses(metrics, cfg.green, "green")
    if not green_misses:
        return GREEN, ["every green threshold met"]
    yellow_misses = _misses(metrics, cfg.yellow, "yellow")
    if not yellow_misses:
        return YELLOW, green_misses
    return RED, yellow_misses


def json_safe(value: Any) -> Any:
    """Replace non-finite floats (an infinite Sortino) by None, recursively, for JSON output."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def check_health(db: DatabaseManager, settings: PipelineSettings | None = None) -> dict[str, Any]:
    """Compute, classify, emit ``quant.health`` (0 green, 1 yellow, 2 red); return colour and reasons."""
    from foundation.metrics import get_client
    from foundation.pipeline_logger import get_logger
    from portfolio.settings import load_settings

    settings = settings or load_settings()
    cfg = settings.quant_health
    metrics = compute_metrics(db, cfg.periods_per_year)
    colour, reasons = classify(metrics, cfg)
    get_client().gauge("quant.health", LEVEL[colour])
    out = {"colour": colour, "level": LEVEL[colour], "reasons": reasons,
           "metrics": json_safe({k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else v)
                                 for k, v in metrics.items()})}
    get_logger("quant_health").log_event("quant_health", level="warning" if colour == RED else "info",
                                         colour=colour, reasons=reasons, metrics=out["metrics"])
    return out
