"""Forecaster monitoring: per-model latency, recent holdout quality and signal outcomes.

The seed's ``monitor_llm_system`` watched LLM latency and signal quality; here the forecasters take the
LLM's place: each model is timed on one series (a fit plus a forecast), recent ``forecast_metrics`` rows are
averaged per model, and signals are counted per source and action with their validated hit rates.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from portfolio.forecasting.runner import fit_model
from portfolio.forecasting.store import load_closes
from portfolio.signal_validation import hit_rates

if TYPE_CHECKING:
    from portfolio.database_manager import DatabaseManager
    from portfolio.db_backend import Connection
    from portfolio.settings import Forecasting

SYNTHETIC_SEED = 7


def latency_series(db: DatabaseManager, tickers: Sequence[str], points: int) -> tuple[str, list[float]]:
    """The last ``points`` closes of the first ticker that has them, else a seeded random walk."""
    conn = db.connect()
    try:
        for ticker in tickers:
            rows = load_closes(conn, ticker, points)
            if len(rows) >= points:
                return ticker, [c for _, c in rows]
    finally:
        conn.close()
    rng = np.random.default_rng(SYNTHETIC_SEED)
    return "synthetic", [float(x) for x in 100.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.012, points)))]


def model_latency(closes: Sequence[float], cfg: Forecasting) -> dict[str, Any]:
    """Fit and forecast time (ms) of each configured model on ``closes``; failures reported, not raised."""
    lp = np.log(np.asarray(closes, dtype=float))
    out: dict[str, Any] = {}
    for name in dict.fromkeys(cfg.models):
        started = time.perf_counter()
        try:
            fitted = fit_model(name, lp, cfg)
            fitted_at = time.perf_counter()
            fc = fitted.forecast(lp, cfg.horizon)
            done = time.perf_counter()
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        out[name] = {"fit_ms": round(1000 * (fitted_at - started), 3),
                     "forecast_ms": round(1000 * (done - fitted_at), 3),
                     "converged": fitted.converged, "finite": fc.is_finite()}
    return out


def model_quality(conn: Connection, runs: int) -> dict[str, Any]:
    """Mean holdout scores per model over its last ``runs`` forecast_metrics rows."""
    rows = conn.execute(
        "SELECT model, COUNT(*), AVG(mape), AVG(rmse), AVG(directional_accuracy), "
        "SUM(CASE WHEN converged = 0 THEN 1 ELSE 0 END), "
        "AVG(fit_seconds) FROM (SELECT *, "
        "ROW_NUMBER() OVER (PARTITION BY model ORDER BY created_at DESC) AS rn FROM forecast_metrics) AS ranked "
        "WHERE rn <= ? GROUP BY model ORDER BY model", (runs,)).fetchall()

    def r(x: Any) -> Any:
        return None if x is None else round(float(x), 6)

    return {m: {"rows": int(n), "mape": r(mape), "rmse": r(rmse), "directional_accuracy": r(da),
                "non_converged": int(nc or 0), "fit_seconds": r(fs)} for m, n, mape, rmse, da, nc, fs in rows}


def signal_summary(conn: Connection) -> dict[str, Any]:
    """Signal counts per source and action, and validated hit rates."""
    counts: dict[str, dict[str, int]] = {}
    rows = conn.execute("SELECT source, action, COUNT(*) FROM signals GROUP BY source, action")
    for source, action, n in rows:
        counts.setdefault(source, {})[action] = int(n)
    return {"counts": counts, **hit_rates(conn)}
