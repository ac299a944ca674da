"""Paper broker on the portfolio database: one account (cash), long-only positions at average cost, trades with costs.

Rules: whole shares; no shorting (a sell never exceeds the holding); cash never goes negative (an order that
would need more is rejected, not partially filled on credit); each order's writes (trade, position,
account) happen in one transaction. Average price includes buy costs, so a sell's ``realized_pnl`` is net of
the costs of both legs. Position size: a BUY tops the position up to ``broker.max_position_fraction`` of
equity (cash plus positions marked at the latest close on or before the bar).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from foundation.pipeline_logger import utc_now_iso
from portfolio.costs import CostModel
from portfolio.db_backend import Connection, driver_errors

if TYPE_CHECKING:
    from portfolio.database_manager import DatabaseManager
    from portfolio.settings import PipelineSettings

EPS = 1e-9


class BrokerError(ValueError):
    """An order that can never be valid (bad price, quantity or side); the message names ticker and value."""


class PaperBroker:
    """Simulated broker over the ``account``, ``positions``, ``trades`` and ``equity_snapshots`` tables."""

    def __init__(self, db: DatabaseManager, settings: PipelineSettings | None = None,
                 cost_model: CostModel | None = None) -> None:
        from portfolio.settings import load_settings

        self.db = db
        self.settings = settings or load_settings()
        self.cfg = self.settings.broker
        self.costs = cost_model or CostModel.from_settings(self.settings.costs)

    # -- reading -------------------------------------------------------------------------------------------
    def ensure_account(self, conn: Connection) -> None:
        """Create the account with ``broker.initial_cash`` if it does not exist yet."""
        conn.execute("INSERT INTO account (id, cash, initial_cash, updated_at) VALUES (1, ?, ?, ?) "
                     "ON CONFLICT (id) DO NOTHING",
                     (self.cfg.initial_cash, self.cfg.initial_cash, utc_now_iso()))

    def _account(self, conn: Connection) -> tuple[float, float]:
        row = conn.execute("SELECT cash, initial_cash FROM account WHERE id = 1").fetchone()
        if row is None:
            return self.cfg.initial_cash, self.cfg.initial_cash
        return float(row[0]), float(row[1])

    def positions(self, conn: Connection | None = None) -> dict[str, dict[str, float]]:
        """Open positions: ``{ticker: {"quantity", "avg_price"}}``."""
        own = conn is None
        conn = conn or self.db.connect()
        try:
            cur = conn.execute("SELECT ticker, quantity, avg_price FROM positions ORDER BY ticker")
            rows = cur.fetchall()
        finally:
            if own:
                conn.close()
        return {r[0]: {"quantity": float(r[1]), "avg_price": float(r[2])} for r in rows}

    @staticmethod
    def marks(conn: Connection, tickers: Iterable[str], as_of: str | None = None) -> dict[str, float]:
        """Latest close of each ticker (on or before ``as_of`` when given); absent when no bars."""
        out = {}
        for t in tickers:
            row = conn.execute("SELECT close FROM ohlcv WHERE ticker = ? AND date <= ? ORDER BY date DESC "
                               "LIMIT 1", (t, as_of or "9999-12-31"))
            found = row.fetchone()
            if found is not None:
                out[t] = float(found[0])
        return out

    def valuation(self, conn: Connection, prices: Mapping[str, float] | None = None,
                  as_of: str | None = None) -> dict[str, float]:
        """Cash, positions value, equity and PnL (equity - initial cash); ``prices`` override the marks."""
        cash, initial = self._account(conn)
        pos = self.positions(conn)
        marks = self.marks(conn, [t for t in pos if not prices or t not in prices], as_of)
        marks.update(prices or {})
        value = sum(p["quantity"] * marks.get(t, p["avg_price"]) for t, p in pos.items())
        equity = cash + value
        return {"cash": cash, "positions_value": value, "equity": equity, "pnl": equity - initial,
                "initial_cash": initial}

    def account(self) -> dict[str, float]:
        """The account valued at the latest closes (creates it on first use)."""
        with self.db.transaction() as conn:
            self.ensure_account(conn)
            return self.valuation(conn)

    def win_rate(self, conn: Connection | None = None) -> float | None:
        """Share of closing trades (sells) with positive realised PnL; None before the first sell."""
        own = conn is None
        conn = conn or self.db.connect()
        try:
            row = conn.execute("SELECT COUNT(*), SUM(CASE WHEN realized_pnl > 0 THEN 1 ELSE 0 END) FROM trades "
                               "WHERE side = 'SELL' AND realized_pnl IS NOT NULL").fetchone()
        finally:
            if own:
                conn.close()
        return None if not row[0] else float(row[1]) / float(row[0])

    # -- orders --------------------------------------------------------------------------------------------
    def _trade(self, conn: Connection, ticker: str, side: str, qty: float, price: float, cost: float,
               pnl: float | None, bar: str, run_id: str, mode: str) -> int:
        cur = conn.execute("INSERT INTO trades (run_id, ticker, bar, ts, side, quantity, price, cost, "
                           "realized_pnl, mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                           (run_id, ticker, bar, utc_now_iso(), side, qty, price, cost, pnl, mode))
        return int(cur.fetchone()[0])

    def buy_in(self, conn: Connection, ticker: str, price: float, *, bar: str, run_id: str,
               mode: str = "standard", quantity: float | None = None) -> dict[str, Any]:
        """BUY inside the caller's transaction: sized to the target weight unless ``quantity`` is given."""
        _check(ticker, price, quantity)
        self.ensure_account(conn)
        cash, _ = self._account(conn)
        held = self.positions(conn).get(ticker, {"quantity": 0.0, "avg_price": 0.0})
        if quantity is None:
            equity = self.valuation(conn, {ticker: price}, as_of=bar)["equity"]
            room = self.cfg.max_position_fraction * equity - held["quantity"] * price
            qty: float = min(math.floor(max(room, 0.0) / price), self.costs.max_affordable(cash, price))
            if qty <= 0:
                why = "position at target size" if room < price else "insufficient cash"
                return _rejected(ticker, "BUY", why)
        else:
            qty = quantity
            if qty * price + self.costs.fill_cost(qty, price) > cash + EPS:
                return _rejected(ticker, "BUY", f"insufficient cash {cash:.2f} for {qty:g} @ {price:g}")
        cost = self.costs.fill_cost(qty, price)
        new_qty = held["quantity"] + qty
        new_avg = (held["quantity"] * held["avg_price"] + qty * price + cost) / new_qty
        trade_id = self._trade(conn, ticker, "BUY", qty, price, cost, None, bar, run_id, mode)
        conn.execute("INSERT INTO positions (ticker, quantity, avg_price, updated_at) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT(ticker) DO UPDATE SET quantity = excluded.quantity, "
                     "avg_price = excluded.avg_price, updated_at = excluded.updated_at",
                     (ticker, new_qty, new_avg, utc_now_iso()))
        conn.execute("UPDATE account SET cash = ?, updated_at = ? WHERE id = 1",
                     (cash - qty * price - cost, utc_now_iso()))
        return {"status": "filled", "ticker": ticker, "side": "BUY", "quantity": qty, "price": price,
                "cost": round(cost, 6), "realized_pnl": None, "trade_id": trade_id}

    def sell_in(self, conn: Connection, ticker: str, price: float, *, bar: str, run_id: str,
                mode: str = "standard", quantity: float | None = None) -> dict[str, Any]:
        """SELL inside the caller's transaction: the whole holding unless ``quantity`` (never short)."""
        _check(ticker, price, quantity)
        self.ensure_account(conn)
        held = self.positions(conn).get(ticker)
        if held is None or held["quantity"] <= EPS:
            return _rejected(ticker, "SELL", "no position to sell (no shorting)")
        qty = held["quantity"] if quantity is None else quantity
        if qty > held["quantity"] + EPS:
            return _rejected(ticker, "SELL", f"holds {held['quantity']:g}, cannot sell {qty:g} (no shorting)")
        cash, _ = self._account(conn)
        cost = self.costs.fill_cost(qty, price)
        if cash + qty * price - cost < 0:
            return _rejected(ticker, "SELL", "proceeds would not cover the cost (cash would go negative)")
        pnl = qty * (price - held["avg_price"]) - cost
        trade_id = self._trade(conn, ticker, "SELL", qty, price, cost, pnl, bar, run_id, mode)
        remaining = held["quantity"] - qty
        if remaining <= EPS:
            conn.execute("DELETE FROM positions WHERE ticker = ?", (ticker,))
        else:
            conn.execute("UPDATE positions SET quantity = ?, updated_at = ? WHERE ticker = ?",
                         (remaining, utc_now_iso(), ticker))
        conn.execute("UPDATE account SET cash = ?, updated_at = ? WHERE id = 1",
                     (cash + qty * price - cost, utc_now_iso()))
        return {"status": "filled", "ticker": ticker, "side": "SELL", "quantity": qty, "price": price,
                "cost": round(cost, 6), "realized_pnl": round(pnl, 6), "trade_id": trade_id}

    def execute_in(self, conn: Connection, action: str, ticker: str, price: float, *, bar: str,
                   run_id: str, mode: str = "standard") -> dict[str, Any]:
        """Act on a BUY / SELL / HOLD signal inside the caller's transaction."""
        if action == "BUY":
            return self.buy_in(conn, ticker, price, bar=bar, run_id=run_id, mode=mode)
        if action == "SELL":
            return self.sell_in(conn, ticker, price, bar=bar, run_id=run_id, mode=mode)
        if action == "HOLD":
            return {"status": "noop", "ticker": ticker, "side": None, "reason": "HOLD"}
        raise BrokerError(f"{ticker}: unknown action {action!r} (expected BUY, SELL or HOLD)")

    def buy(self, ticker: str, price: float, *, bar: str, run_id: str, mode: str = "standard",
            quantity: float | None = None) -> dict[str, Any]:
        """BUY in its own transaction, then publish the trading metrics."""
        with self.db.transaction() as conn:
            out = self.buy_in(conn, ticker, price, bar=bar, run_id=run_id, mode=mode, quantity=quantity)
        self.publish([out])
        return out

    def sell(self, ticker: str, price: float, *, bar: str, run_id: str, mode: str = "standard",
             quantity: float | None = None) -> dict[str, Any]:
        """SELL in its own transaction, then publish the trading metrics."""
        with self.db.transaction() as conn:
            out = self.sell_in(conn, ticker, price, bar=bar, run_id=run_id, mode=mode, quantity=quantity)
        self.publish([out])
        return out

    # -- snapshots and metrics -----------------------------------------------------------------------------
    def snapshot_in(self, conn: Connection, run_id: str, *, bar: str | None = None,
                    prices: Mapping[str, float] | None = None) -> dict[str, float]:
        """Write an equity snapshot (marks on or before ``bar``) inside the caller's transaction."""
        self.ensure_account(conn)
        val = self.valuation(conn, prices, as_of=bar)
        conn.execute("INSERT INTO equity_snapshots (ts, run_id, cash, equity, pnl, bar) VALUES (?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT (ts, run_id) DO UPDATE SET cash = excluded.cash, equity = excluded.equity, "
                     "pnl = excluded.pnl, bar = excluded.bar",
                     (utc_now_iso(), run_id, val["cash"], val["equity"], val["pnl"], bar))
        return val

    def snapshot(self, run_id: str, *, bar: str | None = None) -> dict[str, float]:
        """Write an equity snapshot in its own transaction."""
        with self.db.transaction() as conn:
            return self.snapshot_in(conn, run_id, bar=bar)

    def publish(self, results: Iterable[Mapping[str, Any]]) -> None:
        """Emit ``trading.trades`` per fill and the equity, cash, PnL and win-rate gauges (never raises)."""
        from foundation.metrics import get_client

        statsd = get_client()
        for r in results:
            if r.get("status") == "filled":
                statsd.incr("trading.trades", tags={"ticker": r["ticker"], "side": str(r["side"]).lower()})
        try:
            conn = self.db.connect()
            try:
                val = self.valuation(conn)
                rate = self.win_rate(conn)
            finally:
                conn.close()
        except driver_errors() as exc:  # observability never breaks the pipeline: count it and carry on
            from foundation.failures import report_failure

            report_failure("metrics", "broker_valuation", exc)
            return
        statsd.gauge("trading.equity", val["equity"])
        statsd.gauge("trading.cash", val["cash"])
        statsd.gauge("trading.pnl", val["pnl"])
        if rate is not None:
            statsd.gauge("trading.win_rate", rate)


def _check(ticker: str, price: float, quantity: float | None) -> None:
    if not (isinstance(price, (int, float)) and math.isfinite(price) and price > 0):
        raise BrokerError(f"{ticker}: price {price!r} must be a positive number")
    whole = quantity is not None and math.isfinite(quantity) and quantity > 0 and float(quantity).is_integer()
    if quantity is not None and not whole:
        raise BrokerError(f"{ticker}: quantity {quantity!r} must be a positive whole number of shares")


def _rejected(ticker: str, side: str, reason: str) -> dict[str, Any]:
    return {"status": "rejected", "ticker": ticker, "side": side, "reason": reason}
