"""One auto-trader cycle: latest bar -> forecast (stored or computed) -> signal -> paper order.

Bar-aware: ``bar_state`` remembers the last bar traded per (mode, ticker); a second cycle on the same bar
returns ``{"skipped": "same bar"}`` and writes nothing. Core mode trades only ``tickers.core`` and stops for
the day once ``broker.core_max_trades_per_day`` core trades exist in ``trades`` for the bar's day. The signal,
the order, the bar state and the equity snapshot of one ticker are written in a single transaction, and the
bar-state and core-limit checks are repeated inside it, so concurrent cycles cannot double-trade a bar.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from foundation.pipeline_logger import get_logger, utc_now_iso
from portfolio.broker import PaperBroker
from portfolio.db_backend import Connection
from portfolio.forecasting import ForecastError, forecast_ticker, latest_forecast
from portfolio.signals import FALLBACK_LOOKBACK, route_signal, save_signal

if TYPE_CHECKING:
    from portfolio.database_manager import DatabaseManager
    from portfolio.params import RunParams
    from portfolio.settings import PipelineSettings

CLOSES_FOR_FALLBACK = 3 * FALLBACK_LOOKBACK
MAX_TICKER_THREADS = 4


class TradingError(RuntimeError):
    """A trading cycle failed for one or more tickers; the message names them and why."""


def _latest_bar(conn: Connection, ticker: str) -> tuple[str, float] | None:
    row = conn.execute("SELECT date, close FROM ohlcv WHERE ticker = ? ORDER BY date DESC LIMIT 1",
                       (ticker,)).fetchone()
    return None if row is None else (str(row[0]), float(row[1]))


def _last_bar(conn: Connection, mode: str, ticker: str) -> str | None:
    row = conn.execute("SELECT last_bar FROM bar_state WHERE mode = ? AND ticker = ?",
                       (mode, ticker)).fetchone()
    return None if row is None else str(row[0])


def core_trades_on(conn: Connection, bar: str) -> int:
    """Core-mode trades recorded for the day of ``bar``."""
    row = conn.execute("SELECT COUNT(*) FROM trades WHERE mode = 'core' AND substr(bar, 1, 10) = ?",
                       (bar[:10],)).fetchone()
    return int(row[0])


def _gate(conn: Connection, ticker: str, bar: str, mode: str, limit: int) -> str | None:
    if _last_bar(conn, mode, ticker) == bar:
        return "same bar"
    if mode == "core":
        count = core_trades_on(conn, bar)
        if count >= limit:
            return f"core trade limit reached ({count}/{limit} on {bar[:10]})"
    return None


def trade_ticker(db: DatabaseManager, ticker: str, run_id: str, *, core_mode: bool = False,
                 settings: PipelineSettings | None = None) -> dict[str, Any]:
    """Run one cycle for ``ticker``; return a small dict (action, order status, ids) or why it was skipped."""
    from foundation.metrics import get_client
    from portfolio.settings import load_settings

    out = _trade_ticker(db, ticker, run_id, core_mode, settings or load_settings())
    get_client().gauge("trading.last_cycle", time.time())  # completed cycles only: staleness stays visible
    return out


def _trade_ticker(db: DatabaseManager, ticker: str, run_id: str, core_mode: bool,
                  settings: PipelineSettings) -> dict[str, Any]:
    mode = "core" if core_mode else "standard"
    limit = settings.broker.core_max_trades_per_day
    conn = db.connect()
    try:
        latest = _latest_bar(conn, ticker)
        if latest is None:
            raise TradingError(f"{ticker}: no bars in ohlcv (run the ETL first)")
        bar, price = latest
        skip = _gate(conn, ticker, bar, mode, limit)
        if skip:
            return {"ticker": ticker, "bar": bar, "mode": mode, "skipped": skip}
        forecast = latest_forecast(conn, ticker, as_of=bar)
        closes = [float(r[0]) for r in reversed(conn.execute(
            "SELECT close FROM ohlcv WHERE ticker = ? ORDER BY date DESC LIMIT ?",
            (ticker, CLOSES_FOR_FALLBACK)).fetchall())]
    finally:
        conn.close()
    origin = "stored"
    if forecast is None:
        try:
            forecast = forecast_ticker(db, ticker, run_id, settings)
            origin = "computed"
        except ForecastError as exc:
            origin = f"unavailable: {exc}"
    signal = route_signal(ticker, bar, forecast, closes, horizon=settings.forecasting.horizon,
                          confidence_threshold=settings.signals.confidence_threshold,
                          min_expected_return=settings.signals.min_expected_return)
    broker = PaperBroker(db, settings)
    with db.transaction() as conn:
        skip = _gate(conn, ticker, bar, mode, limit)
        if skip:
            return {"ticker": ticker, "bar": bar, "mode": mode, "skipped": skip}
        signal_id = save_signal(conn, signal, run_id)
        order = broker.execute_in(conn, signal.action, ticker, price, bar=bar, run_id=run_id, mode=mode)
        conn.execute("INSERT INTO bar_state (mode, ticker, last_bar, updated_at) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT(mode, ticker) DO UPDATE SET last_bar = excluded.last_bar, "
                     "updated_at = excluded.updated_at", (mode, ticker, bar, utc_now_iso()))
        equity = broker.snapshot_in(conn, run_id, bar=bar, prices={ticker: price})
    broker.publish([order])
    out = {"ticker": ticker, "bar": bar, "mode": mode, "action": signal.action, "source": signal.source,
           "confidence": round(signal.confidence, 6), "expected_return": round(signal.expected_return, 6),
           "forecast": origin, "signal_id": signal_id, "order": order["status"],
           "trade_id": order.get("trade_id"), "quantity": order.get("quantity"),
           "equity": round(equity["equity"], 2)}
    if order["status"] == "rejected":
        out["reason"] = order["reason"]
    get_logger("trader").log_event("trade_cycle_ticker", run_id=run_id, **out)
    return out


def run_cycle(params: RunParams, run_id: str, *, core_mode: bool = False, strict: bool = True) -> dict[str, Any]:
    """One cycle over ``params.tickers`` (core mode: only ``tickers.core``); raises if any ticker failed, unless
    ``strict`` is off (a batch: the summary's ``errors`` then names the failed tickers, which the others
    never wait for)."""
    from portfolio.database_manager import DatabaseManager
    from portfolio.params import ParameterError
    from portfolio.settings import load_settings

    settings = load_settings()
    tickers = list(params.tickers)
    excluded: list[str] = []
    if core_mode:
        excluded = [t for t in tickers if t not in settings.tickers.core]
        tickers = [t for t in tickers if t in settings.tickers.core]
        if not tickers:
            raise ParameterError(f"core mode: none of {','.join(excluded)} is in tickers.core "
                                 f"({','.join(settings.tickers.core)})")
    db = DatabaseManager()
    started = time.monotonic()

    def one(ticker: str) -> dict[str, Any]:
        try:
            return trade_ticker(db, ticker, run_id, core_mode=core_mode, settings=settings)
        except Exception as exc:  # other tickers still trade; the cycle then fails naming this one
            return {"ticker": ticker, "error": f"{type(exc).__name__}: {exc}"}

    if params.enable_parallel_tickers and len(tickers) > 1:
        with ThreadPoolExecutor(max_workers=min(MAX_TICKER_THREADS, len(tickers))) as pool:
            results = list(pool.map(one, tickers))
    else:
        results = [one(t) for t in tickers]
    actions: dict[str, int] = {}
    for r in results:
        if "action" in r:
            actions[r["action"]] = actions.get(r["action"], 0) + 1
    errors = {r["ticker"]: r["error"] for r in results if "error" in r}
    summary = {"run_id": run_id, "mode": "core" if core_mode else "standard", "tickers": len(tickers),
               "excluded": excluded, "traded": sum(r.get("order") == "filled" for r in results),
               "skipped": sum("skipped" in r for r in results), "signals": actions, "errors": errors,
               "results": results, "duration_s": round(time.monotonic() - started, 3)}
    log = get_logger("trader")
    if errors:
        log.error("trade_cycle_failed", run_id=run_id, errors=errors, traded=summary["traded"])
        if not strict:
            return summary
        raise TradingError(f"{len(errors)} of {len(tickers)} tickers failed: "
                           + "; ".join(f"{t}: {e}" for t, e in errors.items()))
    log.log_event("trade_cycle", **{k: v for k, v in summary.items() if k != "results"})
    return summary


def core_trade_budget(db: DatabaseManager | None = None,
                      settings: PipelineSettings | None = None) -> tuple[int, int]:
    """(core trades on the day of the latest bar, daily limit): the gate the core DAG checks before trading."""
    from portfolio.database_manager import DatabaseManager
    from portfolio.settings import load_settings

    limit = (settings or load_settings()).broker.core_max_trades_per_day
    conn = (db or DatabaseManager()).connect()
    try:
        row = conn.execute("SELECT MAX(date) FROM ohlcv").fetchone()
        used = core_trades_on(conn, str(row[0])) if row and row[0] else 0
    finally:
        conn.close()
    return used, limit


def portfolio_snapshot(run_id: str, db: DatabaseManager | None = None) -> dict[str, Any]:
    """Write an equity snapshot after a cycle, publish the trading gauges and return the valuation."""
    from portfolio.database_manager import DatabaseManager

    broker = PaperBroker(db or DatabaseManager())
    valuation = broker.snapshot(run_id)
    broker.publish([])
    return {"run_id": run_id, **{k: round(float(v), 2) for k, v in valuation.items()}}
