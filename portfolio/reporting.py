"""A short, human-readable summary of what one pipeline run produced (used by ``make run``)."""

from __future__ import annotations

from typing import Any

from foundation.pipeline_logger import get_logger
from portfolio.database_manager import DatabaseManager


def pipeline_summary(run_id: str, db: DatabaseManager | None = None) -> dict[str, Any]:
    """Tickers processed, forecasts, trades, equity and quant health colour for ``run_id``."""
    from portfolio.quant_health import check_health

    db = db or DatabaseManager()
    with db.connect() as conn:
        etl = conn.execute("SELECT COUNT(*), COALESCE(SUM(rows_loaded), 0), "
                           "SUM(CASE WHEN status <> 'success' THEN 1 ELSE 0 END) FROM etl_runs WHERE run_id = ?",
                           (run_id,)).fetchone()
        forecasts = conn.execute("SELECT COUNT(DISTINCT ticker), COUNT(DISTINCT ticker || '/' || model) "
                                 "FROM forecasts WHERE run_id = ?", (run_id,)).fetchone()
        signals = conn.execute("SELECT action, COUNT(*) FROM signals WHERE run_id = ? GROUP BY action",
                               (run_id,)).fetchall()
        trades = conn.execute("SELECT COUNT(*), COALESCE(SUM(cost), 0) FROM trades WHERE run_id = ?",
                              (run_id,)).fetchone()
        # The equity after this run: its own last snapshot (another DAG may have traded since), else the latest.
        equity = conn.execute("SELECT equity, pnl FROM equity_snapshots ORDER BY run_id = ? DESC, ts DESC "
                              "LIMIT 1", (run_id,)).fetchone()
        traded_before = conn.execute("SELECT COUNT(*) FROM bar_state").fetchone()[0]
    health = check_health(db)
    summary = {
        "tickers": f"{etl[0]} processed ({etl[2] or 0} not loaded), {etl[1]} bars loaded",
        "forecasts": f"{forecasts[1]} model forecasts for {forecasts[0]} tickers",
        "signals": ", ".join(f"{n} {a}" for a, n in signals)
                   or ("none: no new bar since the previous cycle" if traded_before else "none"),
        "trades": f"{trades[0]} (costs ${trades[1]:,.2f})",
        "equity": f"${equity[0]:,.2f} (PnL ${equity[1]:,.2f})" if equity else "no snapshot yet",
        "health": f"{health['colour']}" + (f" ({'; '.join(health['reasons'][:2])})" if health.get("reasons") else ""),
        "database": db.location,
        "events": str(get_logger().log_dir),
    }
    return summary
