"""Vectorised backtest of the time-series signal rule over a panel of (forecast, realised return) rows.

The panel has one row per (ticker, as_of): the ensemble's horizon expected return and confidence, the close
at ``as_of`` and the realised log return ``horizon`` bars later. Rows come from stored ensemble forecasts
and, where those are too few, from a walk-forward replay of the real models at past origins (no row sees a
bar after its ``as_of``). The rule mirrors :func:`portfolio.signals.decide` and the long-only broker: a BUY
holds ``position_fraction`` of equity for the horizon and pays the round-trip cost; SELL and HOLD are flat.
Per-``as_of`` portfolio returns (summed over tickers) form the equity curve (overlapping horizons are
treated as consecutive periods: an approximation that is fine for ranking parameters).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from portfolio.forecasting import ForecastError, forecast_series, load_closes

if TYPE_CHECKING:
    import pandas as pd

    from portfolio.costs import CostModel
    from portfolio.database_manager import DatabaseManager
    from portfolio.settings import PipelineSettings

PANEL_COLUMNS = ["ticker", "as_of", "close", "expected_return", "confidence", "realized_return", "origin"]
ALL_HISTORY = 1_000_000


def stored_panel(db: DatabaseManager, tickers: Sequence[str], horizon: int) -> list[dict[str, Any]]:
    """Rows from stored ensemble forecasts whose horizon has been realised (latest run per as_of)."""
    out: list[dict[str, Any]] = []
    conn = db.connect()
    try:
        for ticker in tickers:
            closes = load_closes(conn, ticker, ALL_HISTORY)
            index = {d: i for i, (d, _) in enumerate(closes)}
            rows = conn.execute(
                "SELECT as_of, SUM(expected_return), MAX(confidence), MAX(created_at) FROM forecasts "
                "WHERE ticker = ? AND model = 'ensemble' GROUP BY run_id, as_of ORDER BY as_of, 4, run_id",
                (ticker,)).fetchall()
            latest = {str(r[0]): r for r in rows}  # later runs for the same bar win
            for as_of, r in latest.items():
                i = index.get(as_of)
                if i is None or i + horizon >= len(closes) or r[1] is None or r[2] is None:
                    continue
                realized = math.log(closes[i + horizon][1] / closes[i][1])
                out.append({"ticker": ticker, "as_of": as_of, "close": closes[i][1],
                            "expected_return": float(r[1]), "confidence": float(r[2]),
                            "realized_return": realized, "origin": "stored"})
    finally:
        conn.close()
    return out


def walk_forward_panel(db: DatabaseManager, tickers: Sequence[str], settings: PipelineSettings, *,
                       origins: int, stride: int | None = None,
                       skip: set[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """Replay the ensemble at ``origins`` past bars per ticker (every ``stride`` bars, newest first)."""
    cfg = settings.forecasting
    stride = stride or cfg.horizon
    out: list[dict[str, Any]] = []
    conn = db.connect()
    try:
        series = {t: load_closes(conn, t, ALL_HISTORY) for t in tickers}
    finally:
        conn.close()
    for ticker, closes in series.items():
        last = len(closes) - 1 - cfg.horizon
        for k in range(origins):
            i = last - k * stride
            if i + 1 < cfg.min_history:
                break
            as_of = closes[i][0]
            if skip and (ticker, as_of) in skip:
                continue
            history = [c for _, c in closes[max(0, i + 1 - cfg.lookback): i + 1]]
            try:
                fc = forecast_series(history, as_of, cfg, label=ticker)
            except ForecastError:
                continue
            out.append({"ticker": ticker, "as_of": as_of, "close": closes[i][1],
                        "expected_return": fc.ensemble.expected_return, "confidence": fc.ensemble.confidence,
                        "realized_return": math.log(closes[i + cfg.horizon][1] / closes[i][1]),
                        "origin": "walk_forward"})
    return out


def build_panel(db: DatabaseManager, tickers: Sequence[str], settings: PipelineSettings, *,
                origins: int = 20, min_rows: int = 30) -> pd.DataFrame:
    """Stored rows, topped up by walk-forward rows when there are fewer than ``min_rows``."""
    import pandas as pd

    rows = stored_panel(db, tickers, settings.forecasting.horizon)
    if len(rows) < min_rows and origins > 0:
        seen = {(r["ticker"], r["as_of"]) for r in rows}
        rows += walk_forward_panel(db, tickers, settings, origins=origins, skip=seen)
    frame = pd.DataFrame(rows, columns=PANEL_COLUMNS)
    return frame.sort_values(["as_of", "ticker"], kind="stable").reset_index(drop=True)


def _decisions(panel: pd.DataFrame, confidence_threshold: float, min_expected_return: float, *,
               cost_model: CostModel, notional: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row: BUY mask, SELL mask, realised log return and the trade's net return (0 when flat)."""
    er = panel["expected_return"].to_numpy(float)
    conf = panel["confidence"].to_numpy(float)
    real = panel["realized_return"].to_numpy(float)
    gate = conf >= confidence_threshold
    buy = gate & (er >= min_expected_return) & (er > 0)
    sell = gate & (er <= -min_expected_return) & (er < 0)
    cost = np.array([cost_model.round_trip_fraction(notional, c) for c in panel["close"].to_numpy(float)])
    return buy, sell, real, np.where(buy, np.expm1(real) - cost, 0.0)


def _per_date(panel: pd.DataFrame, weighted_returns: np.ndarray) -> pd.Series:
    """Portfolio return per ``as_of`` (summed over tickers, floored just above -100%), by date."""
    per_date = panel.assign(r=weighted_returns).groupby("as_of", sort=True)["r"].sum()
    return per_date.clip(lower=-0.999999)


def evaluate(panel: pd.DataFrame, confidence_threshold: float, min_expected_return: float, *,
             cost_model: CostModel, notional: float, position_fraction: float = 1.0, horizon: int = 5,
             periods_per_year: int = 252) -> dict[str, Any]:
    """Trades, hit rate, returns, Sharpe and drawdown of the rule with these thresholds on ``panel``."""
    buy, sell, real, trade_ret = _decisions(panel, confidence_threshold, min_expected_return,
                                            cost_model=cost_model, notional=notional)
    hits = (buy & (real > 0)) | (sell & (real < 0))
    signals = int(np.sum(buy | sell))
    per_date = _per_date(panel, position_fraction * trade_ret).to_numpy()
    equity = np.cumprod(1.0 + per_date) if len(per_date) else np.array([1.0])
    sd = float(np.std(per_date, ddof=1)) if len(per_date) > 1 else 0.0
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))
    drawdown = float(np.max((peak - np.concatenate([[1.0], equity])) / peak))
    trades = int(np.sum(buy))
    annual = math.sqrt(periods_per_year / horizon)
    return {"confidence_threshold": round(confidence_threshold, 6),
            "min_expected_return": round(min_expected_return, 6),
            "position_fraction": round(position_fraction, 6), "trades": trades, "signals": signals,
            "hit_rate": round(float(np.sum(hits)) / signals, 6) if signals else None,
            "mean_trade_return": round(float(np.sum(trade_ret)) / trades, 6) if trades else None,
            "total_return": round(float(equity[-1] - 1.0), 6),
            "log_growth": round(float(np.sum(np.log1p(per_date))), 6),
            "sharpe": round(float(np.mean(per_date)) / sd * annual, 6) if sd > 0 else 0.0,
            "max_drawdown": round(drawdown, 6)}


def sweep(panel: pd.DataFrame, confidence_grid: Sequence[float], return_grid: Sequence[float], *,
          cost_model: CostModel, notional: float, min_trades: int, horizon: int = 5) -> dict[str, Any]:
    """Evaluate every (confidence, min return) pair; best = highest total return, then Sharpe, among pairs
    with at least ``min_trades`` trades (None when no pair qualifies)."""
    grid = [evaluate(panel, c, r, cost_model=cost_model, notional=notional, horizon=horizon)
            for c in confidence_grid for r in return_grid]
    eligible = [g for g in grid if g["trades"] >= min_trades]
    best = max(eligible, key=lambda g: (g["total_return"], g["sharpe"])) if eligible else None
    return {"grid": grid, "best": best, "eligible": len(eligible)}


def random_search(panel: pd.DataFrame, *, trials: int, seed: int, cost_model: CostModel, initial_cash: float,
                  max_drawdown: float, min_trades: int, horizon: int = 5,
                  bounds: dict[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    """Seeded random search over thresholds and position size maximising log growth under a drawdown cap."""
    space = {"confidence_threshold": (0.3, 0.9), "min_expected_return": (0.0, 0.02),
             "position_fraction": (0.02, 0.3), **(bounds or {})}
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(trials):
        p = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in space.items()}
        frac = p["position_fraction"]
        res = evaluate(panel, p["confidence_threshold"], p["min_expected_return"], cost_model=cost_model,
                       notional=frac * initial_cash, position_fraction=frac, horizon=horizon)
        feasible = res["trades"] >= min_trades and res["max_drawdown"] <= max_drawdown
        res["objective"] = res["log_growth"] if feasible else None
        results.append(res)
    ranked = sorted((r for r in results if r["objective"] is not None), key=lambda r: -r["objective"])
    return {"trials": trials, "seed": seed, "space": {k: list(v) for k, v in space.items()},
            "feasible": len(ranked), "best": ranked[0] if ranked else None, "top": ranked[:10]}


def equity_path(panel: pd.DataFrame, confidence_threshold: float, min_expected_return: float, *,
                cost_model: CostModel, initial_cash: float, position_fraction: float) -> dict[str, Any]:
    """The rule's equity in USD per ``as_of`` (the :func:`evaluate` curve from ``initial_cash``) and its PnL
    per ticker (each BUY holds ``position_fraction * initial_cash`` for the horizon, net of costs)."""
    notional = position_fraction * initial_cash
    buy, _, _, trade_ret = _decisions(panel, confidence_threshold, min_expected_return, cost_model=cost_model,
                                      notional=notional)
    per_date = _per_date(panel, position_fraction * trade_ret)
    trades = panel.assign(b=buy).groupby("as_of", sort=True)["b"].sum()
    equity, curve = initial_cash, []
    for as_of, ret in per_date.items():
        equity *= 1.0 + float(ret)
        curve.append({"as_of": str(as_of), "return": float(ret), "equity": equity, "trades": int(trades[as_of])})
    by_ticker = panel.assign(b=buy, pnl=notional * trade_ret).groupby("ticker", sort=True)
    return {"curve": curve,
            "by_ticker": {str(t): {"rows": len(g), "trades": int(g["b"].sum()), "pnl": float(g["pnl"].sum())}
                          for t, g in by_ticker}}


def signal_backtest(db: DatabaseManager, tickers: Sequence[str], settings: PipelineSettings, *,
                    origins: int) -> dict[str, Any]:
    """The configured signal rule on the stored (else walk-forward) panel: summary, equity path, PnL by ticker."""
    from portfolio.costs import CostModel

    panel = build_panel(db, tickers, settings, origins=origins)
    fraction, cash = settings.broker.max_position_fraction, settings.broker.initial_cash
    params = {"confidence_threshold": settings.signals.confidence_threshold,
              "min_expected_return": settings.signals.min_expected_return, "position_fraction": fraction,
              "initial_cash": cash, "horizon": settings.forecasting.horizon}
    if panel.empty:
        return {"rows": 0, "params": params, "summary": None, "curve": [], "by_ticker": {}}
    cost = CostModel.from_settings(settings.costs)
    summary = evaluate(panel, params["confidence_threshold"], params["min_expected_return"], cost_model=cost,
                       notional=fraction * cash, position_fraction=fraction, horizon=settings.forecasting.horizon,
                       periods_per_year=settings.quant_health.periods_per_year)
    path = equity_path(panel, params["confidence_threshold"], params["min_expected_return"], cost_model=cost,
                       initial_cash=cash, position_fraction=fraction)
    origin = panel["origin"].value_counts().to_dict()
    return {"rows": len(panel), "origins": {str(k): int(v) for k, v in origin.items()}, "params": params,
            "summary": summary, **path}
