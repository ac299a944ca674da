"""Signal validation: realised returns for past signals and the hit rates of BUY / SELL decisions.

A signal on bar B is validated once ``horizon`` bars exist after B (the bar's session, or the last session
before it for intraday bars): ``realized_return = ln(close[B + horizon] / close[B])``. A BUY is a hit when
that return is positive, a SELL when it is negative; HOLDs are validated but not scored.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from foundation.pipeline_logger import utc_now_iso
from portfolio.forecasting.store import load_closes

if TYPE_CHECKING:
    from portfolio.database_manager import DatabaseManager
    from portfolio.db_backend import Connection

ALL_BARS = 10_000_000
# 1 for a validated signal that was right (BUY before a rise, SELL before a fall), else 0: summed for hit counts
HIT = ("CASE WHEN (action = 'BUY' AND realized_return > 0) OR (action = 'SELL' AND realized_return < 0) "
       "THEN 1 ELSE 0 END")


def hit_rates(conn: Connection) -> dict[str, Any]:
    """Hit rate of validated BUY/SELL signals, overall and per source."""
    rows = conn.execute(f"SELECT source, COUNT(*), SUM({HIT}) FROM signals "
                        "WHERE validated_at IS NOT NULL AND action IN ('BUY', 'SELL') "
                        "GROUP BY source ORDER BY source").fetchall()
    by_source: dict[str, dict[str, Any]] = {
        r[0]: {"scored": int(r[1]), "hits": int(r[2] or 0),
               "hit_rate": round((r[2] or 0) / r[1], 6) if r[1] else None} for r in rows}
    scored = sum(int(v["scored"]) for v in by_source.values())
    hits = sum(int(v["hits"]) for v in by_source.values())
    return {"scored": scored, "hits": hits, "hit_rate": round(hits / scored, 6) if scored else None,
            "by_source": by_source}


def backfill(db: DatabaseManager, horizon: int, tickers: Collection[str] | None = None) -> dict[str, Any]:
    """Fill realised returns of pending signals (of ``tickers``, or all) whose horizon has passed."""
    if horizon < 1:
        raise ValueError(f"horizon={horizon}: must be at least 1 bar")
    filled = 0
    with db.transaction() as conn:
        pending = conn.execute("SELECT id, ticker, bar FROM signals WHERE realized_return IS NULL "
                               "ORDER BY ticker, bar").fetchall()
        wanted = set(tickers) if tickers is not None else {r[1] for r in pending}
        series: dict[str, tuple[list[str], list[float]]] = {}
        now = utc_now_iso()
        for sig_id, ticker, bar in pending:
            if ticker not in wanted:
                continue
            if ticker not in series:
                rows = load_closes(conn, ticker, ALL_BARS)
                series[ticker] = ([d for d, _ in rows], [c for _, c in rows])
            dates, closes = series[ticker]
            i = bisect.bisect_right(dates, str(bar)[:10]) - 1
            if i < 0 or i + horizon >= len(dates):
                continue
            conn.execute("UPDATE signals SET realized_return = ?, validated_at = ? WHERE id = ?",
                         (math.log(closes[i + horizon] / closes[i]), now, sig_id))
            filled += 1
        still = int(conn.execute("SELECT COUNT(*) FROM signals WHERE realized_return IS NULL").fetchone()[0])
        rates = hit_rates(conn)
    return {"filled": filled, "pending": still, "horizon": horizon, "tickers": sorted(wanted), **rates}
