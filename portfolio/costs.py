"""Transaction-cost model and realised-cost estimation.

Cost of one fill, in USD: ``max(min_commission, commission_per_share * shares)`` plus
``notional * (spread_bps / 2 + slippage_bps) / 10_000``: every fill crosses half the quoted spread and pays
the slippage. Fills are booked at the bar's close; the cost is a separate amount (``trades.cost``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portfolio.database_manager import DatabaseManager
    from portfolio.settings import Costs

ETF_TICKERS = frozenset({"SPY", "QQQ", "IWM", "DIA", "VTI", "VOO", "TLT", "IEF", "GLD", "SLV", "EEM", "EFA",
                         "XLK", "XLF", "XLE", "XLV", "XLY", "XLP", "XLI", "XLU", "XLB", "XLRE", "HYG", "LQD"})


@dataclass(frozen=True)
class CostModel:
    """Commission per share with a minimum, half-spread and slippage in basis points."""

    commission_per_share: float = 0.005
    min_commission: float = 1.0
    spread_bps: float = 2.0
    slippage_bps: float = 1.0

    @classmethod
    def from_settings(cls, costs: Costs) -> CostModel:
        """The model configured in ``costs:`` of ``config/pipeline.yml``."""
        return cls(costs.commission_per_share, costs.min_commission, costs.spread_bps, costs.slippage_bps)

    @property
    def variable_bps(self) -> float:
        """Basis points paid on notional per fill (half spread plus slippage)."""
        return self.spread_bps / 2.0 + self.slippage_bps

    def commission(self, quantity: float) -> float:
        """Commission of a fill of ``quantity`` shares (zero shares cost nothing)."""
        if quantity <= 0:
            return 0.0
        return max(self.min_commission, self.commission_per_share * quantity)

    def fill_cost(self, quantity: float, price: float) -> float:
        """Total cost in USD of filling ``quantity`` shares at ``price``."""
        if quantity <= 0:
            return 0.0
        return self.commission(quantity) + abs(quantity * price) * self.variable_bps / 10_000.0

    def cost_bps(self, quantity: float, price: float) -> float:
        """:meth:`fill_cost` as basis points of the notional."""
        notional = abs(quantity * price)
        return 0.0 if notional == 0 else 10_000.0 * self.fill_cost(quantity, price) / notional

    def round_trip_fraction(self, notional: float, price: float) -> float:
        """Cost of buying then selling ``notional`` worth at ``price``, as a fraction of the notional."""
        if notional <= 0 or price <= 0:
            return 0.0
        shares = max(1.0, math.floor(notional / price))
        return 2.0 * self.fill_cost(shares, price) / (shares * price)

    def max_affordable(self, cash: float, price: float) -> int:
        """Most whole shares whose notional plus fill cost fits in ``cash``."""
        if cash <= 0 or price <= 0:
            return 0
        per_share = price * (1 + self.variable_bps / 10_000.0)
        qty = math.floor(cash / (per_share + self.commission_per_share))
        if qty > 0 and self.commission_per_share * qty < self.min_commission:
            qty = math.floor(max(0.0, cash - self.min_commission) / per_share)
        while qty > 0 and qty * price + self.fill_cost(qty, price) > cash:
            qty -= 1
        return max(0, qty)


def asset_class(ticker: str) -> str:
    """Rough asset class from the symbol: ``crypto`` (``-USD``), ``etf`` (known funds), else ``equity``."""
    if ticker.endswith("-USD"):
        return "crypto"
    return "etf" if ticker in ETF_TICKERS else "equity"


def _bucket(notional: float, cost: float, trades: int) -> dict[str, Any]:
    return {"trades": trades, "notional": round(notional, 2), "cost": round(cost, 4),
            "cost_bps": round(10_000.0 * cost / notional, 4) if notional > 0 else None}


def estimate_costs_from_trades(db: DatabaseManager) -> dict[str, Any]:
    """Realised costs in ``trades`` as bps of notional, per ticker, per asset class and overall."""
    conn = db.connect()
    try:
        rows = conn.execute("SELECT ticker, COUNT(*), SUM(ABS(quantity * price)), SUM(cost) FROM trades "
                            "GROUP BY ticker ORDER BY ticker").fetchall()
    finally:
        conn.close()
    by_ticker: dict[str, Any] = {}
    classes: dict[str, list[float]] = {}
    total = [0.0, 0.0, 0.0]
    for ticker, count, notional, cost in rows:
        notional, cost = float(notional or 0.0), float(cost or 0.0)
        by_ticker[ticker] = {**_bucket(notional, cost, int(count)), "asset_class": asset_class(ticker)}
        acc = classes.setdefault(asset_class(ticker), [0.0, 0.0, 0.0])
        for i, v in enumerate((notional, cost, count)):
            acc[i] += v
            total[i] += v
    return {"by_ticker": by_ticker,
            "by_asset_class": {k: _bucket(v[0], v[1], int(v[2])) for k, v in sorted(classes.items())},
            "overall": _bucket(total[0], total[1], int(total[2]))}
