"""Trading numbers of the performance report, read from the portfolio database (plain SQL, no pandas).

Period filters use the rows' own UTC timestamps (``ts``/``created_at``, ISO-8601 strings compare in time
order). The equity curve keeps the last snapshot of each bar, the same curve ``portfolio.quant_health`` uses.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portfolio.readout import Connection, DatabaseManager, PipelineSettings

TRADE_COLUMNS = ("id", "ts", "ticker", "side", "quantity", "price", "cost", "realized_pnl", "mode", "bar",
                 "run_id")


def equity_curve(conn: Connection, since: str, until: str) -> dict[str, Any]:
    """Last snapshot per bar in the period, with drawdown from the running peak, and its summary."""
    rows = conn.execute(
        "SELECT ts, b, cash, equity, pnl FROM (SELECT ts, COALESCE(bar, substr(ts, 1, 10)) AS b, cash, "
        "equity, pnl, ROW_NUMBER() OVER (PARTITION BY COALESCE(bar, substr(ts, 1, 10)) "
        "ORDER BY ts DESC) AS rn "
        "FROM equity_snapshots WHERE ts >= ? AND ts <= ?) AS last_per_bar WHERE rn = 1 ORDER BY ts",
        (since, until)).fetchall()
    points, peak = [], float("-inf")
    for ts, bar, cash, equity, pnl in rows:
        peak = max(peak, float(equity))
        drawdown = float(equity) / peak - 1.0 if peak > 0 else 0.0
        points.append({"ts": ts, "bar": bar, "cash": float(cash), "equity": float(equity), "pnl": float(pnl),
                       "drawdown": drawdown})
    if not points:
        return {"points": [], "count": 0}
    first, last = points[0], points[-1]
    return {"points": points, "count": len(points), "start_equity": first["equity"],
            "end_equity": last["equity"], "peak_equity": max(p["equity"] for p in points),
            "period_return": last["equity"] / first["equity"] - 1.0 if first["equity"] > 0 else None,
            "period_pnl": last["equity"] - first["equity"], "total_pnl": last["pnl"],
            "max_drawdown": -min(p["drawdown"] for p in points), "current_drawdown": -last["drawdown"]}


def trade_rows(conn: Connection, since: str, until: str) -> list[dict[str, Any]]:
    """Trades of the period, oldest first, as dicts with :data:`TRADE_COLUMNS`."""
    cols = ", ".join(TRADE_COLUMNS)
    cur = conn.execute(f"SELECT {cols} FROM trades WHERE ts >= ? AND ts <= ? ORDER BY ts, id",
                       (since, until))
    return [dict(zip(TRADE_COLUMNS, r, strict=True)) for r in cur.fetchall()]


def run_results(conn: Connection, run_id: str) -> dict[str, Any]:
    """What one run traded (all its trades, whatever their bar time) and the equity after it."""
    count, costs = conn.execute("SELECT COUNT(*), COALESCE(SUM(cost), 0) FROM trades WHERE run_id = ?",
                                (run_id,)).fetchone()
    # Same rule as the ``make run`` summary: the run's own last snapshot, else the latest one.
    latest = conn.execute("SELECT equity, pnl FROM equity_snapshots ORDER BY run_id = ? DESC, ts DESC LIMIT 1",
                          (run_id,)).fetchone()
    return {"trades": int(count), "trade_costs": round(float(costs), 2),
            "equity": round(float(latest[0]), 2) if latest else None,
            "pnl": round(float(latest[1]), 2) if latest else None}


def _closing_stats(pnls: list[float]) -> dict[str, Any]:
    wins, losses = [p for p in pnls if p > 0], [p for p in pnls if p < 0]
    gross_loss = -sum(losses)
    return {"closed_trades": len(pnls), "wins": len(wins),
            "win_rate": len(wins) / len(pnls) if pnls else None,
            "profit_factor": sum(wins) / gross_loss if gross_loss > 0 else None}


def trade_stats(trades: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals, win rate and profit factor (closing trades: sells with realised PnL), overall and by ticker."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in trades:
        groups[t["ticker"]].append(t)

    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        pnls = [float(r["realized_pnl"]) for r in rows
                if r["side"] == "SELL" and r["realized_pnl"] is not None]
        return {"trades": len(rows), "buys": sum(r["side"] == "BUY" for r in rows),
                "sells": sum(r["side"] == "SELL" for r in rows), "realized_pnl": sum(pnls),
                "costs": sum(float(r["cost"]) for r in rows),
                "notional": sum(float(r["quantity"]) * float(r["price"]) for r in rows),
                **_closing_stats(pnls)}

    return {**summary(trades), "by_ticker": {t: summary(rows) for t, rows in sorted(groups.items())}}


def forecast_errors(conn: Connection, since: str, until: str) -> dict[str, dict[str, Any]]:
    """Mean MAPE / RMSE / directional accuracy, convergence rate and fit time per model.

    Rows without ``created_at`` (written before it was recorded) cannot be dated and are included.
    """
    rows = conn.execute(
        "SELECT model, COUNT(*), COUNT(DISTINCT ticker), AVG(mape), AVG(rmse), AVG(directional_accuracy), "
        "AVG(converged), AVG(fit_seconds) FROM forecast_metrics "
        "WHERE created_at IS NULL OR (created_at >= ? AND created_at <= ?) GROUP BY model ORDER BY model",
        (since, until)).fetchall()
    return {r[0]: {"fits": int(r[1]), "tickers": int(r[2]), "mape": r[3], "rmse": r[4],
                   "directional_accuracy": r[5], "converged_rate": r[6], "fit_seconds": r[7]} for r in rows}


def signal_hit_rate(conn: Connection, since: str, until: str) -> dict[str, Any]:
    """Hit rate of backfilled BUY/SELL signals created in the period (BUY hits on a rise, SELL on a fall)."""
    from portfolio.readout import SIGNAL_HIT

    where = ("realized_return IS NOT NULL AND action IN ('BUY', 'SELL') "
             "AND created_at >= ? AND created_at <= ?")
    out: dict[str, Any] = {}
    for key, column in (("by_source", "source"), ("by_ticker", "ticker")):
        rows = conn.execute(f"SELECT {column}, COUNT(*), SUM({SIGNAL_HIT}) FROM signals WHERE {where} "
                            f"GROUP BY {column} ORDER BY {column}", (since, until)).fetchall()
        out[key] = {r[0]: {"scored": int(r[1]), "hits": int(r[2] or 0), "hit_rate": (r[2] or 0) / r[1]}
                    for r in rows}
    scored = sum(v["scored"] for v in out["by_source"].values())
    hits = sum(v["hits"] for v in out["by_source"].values())
    pending = conn.execute("SELECT COUNT(*) FROM signals WHERE realized_return IS NULL AND created_at >= ? "
                           "AND created_at <= ?", (since, until)).fetchone()[0]
    return {"scored": scored, "hits": hits, "hit_rate": hits / scored if scored else None,
            "pending": int(pending), **out}


def quant_health(db: DatabaseManager, settings: PipelineSettings) -> dict[str, Any]:
    """GREEN/YELLOW/RED from ``portfolio.quant_health`` over the whole history (no gauge, no event)."""
    try:
        from portfolio.readout import quant_health as qh
    except ImportError as exc:
        return {"colour": None, "reasons": [f"portfolio.quant_health unavailable: {exc}"], "metrics": {}}
    cfg = settings.quant_health
    metrics = qh.compute_metrics(db, cfg.periods_per_year)
    colour, reasons = qh.classify(metrics, cfg)
    return {"colour": colour, "reasons": reasons, "metrics": qh.json_safe(metrics), "scope": "all history"}


def _sessions_behind(last: date, today: date, calendar: str) -> int:
    """Completed sessions after ``last`` and before ``today`` (today's bar is loaded the next morning)."""
    if last >= today - timedelta(days=1):
        return 0
    from portfolio.readout import sessions_between

    return len(sessions_between(last + timedelta(days=1), today - timedelta(days=1), calendar))


def market_data(conn: Connection, today: date, calendar: str) -> dict[str, Any]:
    """Last bar per ticker in ``ohlcv`` and how many completed exchange sessions it is behind."""
    out: dict[str, Any] = {}
    for ticker, last, rows in conn.execute("SELECT ticker, MAX(date), COUNT(*) FROM ohlcv GROUP BY ticker "
                                           "ORDER BY ticker").fetchall():
        entry: dict[str, Any] = {"last_bar": last, "bars": int(rows), "sessions_behind": None}
        try:
            entry["sessions_behind"] = _sessions_behind(date.fromisoformat(str(last)[:10]), today, calendar)
        except ValueError as exc:  # a malformed date or one outside the calendar's range
            entry["error"] = f"{ticker}: last bar {last!r}: {exc}"
        out[ticker] = entry
    return out
