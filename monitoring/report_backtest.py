"""Backtest section of the performance report: the configured signal rule on the synthetic (or loaded) history.

Runs :func:`portfolio.readout.signal_backtest` (``portfolio.backtest``: stored ensemble forecasts whose horizon
has passed, topped up by a walk-forward replay of the real models at ``performance_report.backtest_origins``
past bars per ticker when fewer than 30 are stored) for the default tickers that have bars. The replay costs
about 0.7 s per origin and ticker, so the result is cached in ``backtest.json`` beside the report, keyed by the
tickers, their last bar and bar count, the origins and the settings it depends on: a report on the same bars
reuses it. Never fails the report: a failure is counted and becomes a ``note``.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation.atomic_io import write_atomic

if TYPE_CHECKING:
    from portfolio.readout import Connection, DatabaseManager, PipelineSettings

CACHE_NAME = "backtest.json"


def cache_key(conn: Connection, tickers: list[str], settings: PipelineSettings, origins: int) -> str:
    """Hash of what the backtest depends on: bars per ticker and the forecasting/signal/broker/cost settings."""
    bars = {t: list(conn.execute("SELECT MAX(date), COUNT(*) FROM ohlcv WHERE ticker = ?", (t,)).fetchone())
            for t in tickers}
    parts = {"tickers": tickers, "bars": bars, "origins": origins,
             **{k: getattr(settings, k).model_dump(mode="json")
                for k in ("forecasting", "signals", "broker", "costs")},
             "periods_per_year": settings.quant_health.periods_per_year}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _with_drawdown(curve: list[dict[str, Any]]) -> list[dict[str, Any]]:
    peak, out = float("-inf"), []
    for p in curve:
        peak = max(peak, p["equity"])
        out.append({**p, "drawdown": p["equity"] / peak - 1.0 if peak > 0 else 0.0})
    return out


def backtest_section(db: DatabaseManager, conn: Connection, settings: PipelineSettings, out_dir: Path,
                     origins: int | None = None) -> dict[str, Any]:
    """The backtest of the default tickers with bars (cached per bars and settings), or a ``note``."""
    origins = settings.performance_report.backtest_origins if origins is None else origins
    try:
        have = {r[0] for r in conn.execute("SELECT DISTINCT ticker FROM ohlcv").fetchall()}
        tickers = [t for t in settings.tickers.default if t in have]
        if not tickers:
            return {"note": "no market data yet: nothing to backtest", "curve": [], "by_ticker": {}}
        key = cache_key(conn, tickers, settings, origins)
        cache = out_dir / CACHE_NAME
        if cache.is_file():
            try:
                stored = json.loads(cache.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                stored = {}
            if stored.get("key") == key:
                return {**stored["section"], "cached": True}
        from portfolio.readout import signal_backtest

        began = time.monotonic()
        result = signal_backtest(db, tickers, settings, origins=origins)
        section = {**result, "curve": _with_drawdown(result["curve"]), "tickers": tickers,
                   "origins_per_ticker": origins, "seconds": round(time.monotonic() - began, 3)}
        if not section["curve"]:
            section["note"] = "too little history for a backtest (forecasting.min_history bars plus the horizon)"
        write_atomic(cache, json.dumps({"key": key, "section": section}, default=str).encode("utf-8"))
        return {**section, "cached": False}
    except Exception as exc:
        from foundation.failures import report_failure

        report_failure("performance_report", "backtest", exc)
        return {"note": f"backtest failed: {type(exc).__name__}: {str(exc)[:200]}", "curve": [], "by_ticker": {}}
