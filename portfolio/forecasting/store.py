"""Persistence of forecasts: ``forecasts`` (per model and step) and ``forecast_metrics``, keyed by run id.

Saving a (run id, ticker) replaces whatever that run stored for the ticker before, in one transaction, so a
retried task never duplicates rows.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from foundation.pipeline_logger import utc_now_iso

if TYPE_CHECKING:
    from portfolio.database_manager import DatabaseManager
    from portfolio.db_backend import Connection
    from portfolio.forecasting.runner import SeriesForecast

Z95 = 1.959964
_calendar_lock = threading.Lock()


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def next_sessions(as_of: str, count: int, calendar: str = "XNYS") -> list[str]:
    """The ``count`` trading sessions after ``as_of`` (exchange calendar; weekdays if it is unavailable)."""
    start = date.fromisoformat(as_of[:10])
    try:
        from portfolio.calendar import next_session

        out, day = [], start
        with _calendar_lock:  # the first call builds the calendar (seconds): once, not once per thread
            for _ in range(count):
                day = next_session(day, calendar)
                out.append(day.isoformat())
        return out
    except Exception:  # outside the calendar's range or no calendar available: plain weekdays
        days = np.busday_offset(np.datetime64(start.isoformat()), np.arange(1, count + 1), roll="forward")
        return [str(d) for d in days]


def load_closes(conn: Connection, ticker: str, lookback: int,
                as_of: str | None = None) -> list[tuple[str, float]]:
    """The last ``lookback`` (date, close) rows of ``ticker`` up to ``as_of``, oldest first."""
    if as_of is None:
        rows = conn.execute("SELECT date, close FROM ohlcv WHERE ticker = ? ORDER BY date DESC LIMIT ?",
                            (ticker, lookback)).fetchall()
    else:
        rows = conn.execute("SELECT date, close FROM ohlcv WHERE ticker = ? AND date <= ? ORDER BY date DESC "
                            "LIMIT ?", (ticker, as_of, lookback)).fetchall()
    return [(str(r[0]), float(r[1])) for r in reversed(rows)]


def save_forecast(db: DatabaseManager, ticker: str, run_id: str, result: SeriesForecast,
                  target_dates: Sequence[str]) -> int:
    """Replace the rows of (``run_id``, ``ticker``) with ``result``; return the number of forecast rows."""
    created = utc_now_iso()
    rows: list[tuple[Any, ...]] = []
    models = {**result.models, "ensemble": result.ensemble.forecast}
    for name, fc in models.items():
        cum = np.cumsum(fc.step_returns)
        cum_sigma = np.sqrt(np.cumsum(fc.step_sigma**2))
        conf = result.ensemble.confidence if name == "ensemble" else None
        for k in range(result.horizon):
            price = result.last_close * math.exp(cum[k])
            lower = result.last_close * math.exp(cum[k] - Z95 * cum_sigma[k])
            upper = result.last_close * math.exp(cum[k] + Z95 * cum_sigma[k])
            rows.append((run_id, ticker, name, created, result.as_of, k + 1, target_dates[k],
                         _num(float(fc.step_returns[k])), _num(price), _num(float(fc.step_sigma[k])),
                         _num(lower), _num(upper), conf))
    metric_rows = []
    for name, score in result.scores.items():
        metric_rows.append((run_id, ticker, name, _num(score.mape), _num(score.rmse),
                            _num(score.directional_accuracy),
                            None if name == "ensemble" else int(result.converged.get(name, True)),
                            _num(result.fit_seconds.get(name, sum(result.fit_seconds.values()))), created))
    with db.transaction() as conn:
        conn.execute("DELETE FROM forecasts WHERE run_id = ? AND ticker = ?", (run_id, ticker))
        conn.execute("DELETE FROM forecast_metrics WHERE run_id = ? AND ticker = ?", (run_id, ticker))
        conn.executemany("INSERT INTO forecasts (run_id, ticker, model, created_at, as_of, step, "
                         "target_date, expected_return, price, volatility, lower, upper, confidence) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO forecast_metrics (run_id, ticker, model, mape, rmse, "
                         "directional_accuracy, converged, fit_seconds, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", metric_rows)
    return len(rows)


def latest_forecast(conn: Connection, ticker: str, as_of: str | None = None) -> dict[str, Any] | None:
    """The newest ensemble forecast of ``ticker`` (for bar ``as_of`` if given), summarised; None if absent."""
    sql = "SELECT run_id, as_of, created_at FROM forecasts WHERE ticker = ? AND model = 'ensemble'"
    args: list[Any] = [ticker]
    if as_of is not None:
        sql += " AND as_of = ?"
        args.append(as_of)
    head = conn.execute(sql + " ORDER BY as_of DESC, created_at DESC LIMIT 1", args).fetchone()
    if head is None:
        return None
    agg = conn.execute(
        "SELECT SUM(expected_return), MAX(confidence), COUNT(*), "
        "SUM(volatility * volatility), MIN(CASE WHEN step = 1 THEN volatility END) FROM forecasts "
        "WHERE run_id = ? AND ticker = ? AND model = 'ensemble'", (head[0], ticker)).fetchone()
    return {"run_id": head[0], "as_of": head[1], "created_at": head[2], "expected_return": agg[0],
            "confidence": agg[1], "horizon": agg[2], "volatility": agg[4],
            "horizon_volatility": math.sqrt(agg[3]) if agg[3] else None}
