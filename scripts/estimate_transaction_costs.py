"""Monthly transaction-cost estimate: realised costs of the paper trades (bps of notional, per ticker and
asset class) next to the configured cost model's estimate for a typical order, written to
``logs/automation/transaction_costs.json``.

Cron (seed): ``transaction_costs`` at 4:15 on the 1st of the month. The typical order is
broker.max_position_fraction x broker.initial_cash at each ticker's latest close.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from scripts.entrypoint import add_run_arguments, cli_main, make_parser

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

NAME = "estimate_transaction_costs"
OUTPUT = "transaction_costs.json"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    add_run_arguments(parser)
    return parser


def run(*, inputs: RunInputs | None = None) -> dict[str, Any]:
    """Estimate realised and modelled costs; write the JSON report; return a summary."""
    import math

    from foundation.pipeline_logger import utc_now_iso
    from portfolio.automation import automation_dir, write_json_atomic
    from portfolio.broker import PaperBroker
    from portfolio.costs import CostModel, asset_class, estimate_costs_from_trades
    from portfolio.database_manager import DatabaseManager
    from portfolio.run_inputs import default_inputs
    from portfolio.settings import load_settings

    params = (inputs or default_inputs()).params
    settings = load_settings()
    model = CostModel.from_settings(settings.costs)
    db = DatabaseManager()
    realized = estimate_costs_from_trades(db)
    notional = settings.broker.max_position_fraction * settings.broker.initial_cash
    conn = db.connect()
    try:
        marks = PaperBroker.marks(conn, params.tickers)
    finally:
        conn.close()
    modelled: dict[str, dict[str, Any]] = {}
    for ticker in params.tickers:
        price = marks.get(ticker)
        if price is None:
            modelled[ticker] = {"asset_class": asset_class(ticker), "price": None, "cost_bps": None}
            continue
        shares = max(1, math.floor(notional / price))
        modelled[ticker] = {"asset_class": asset_class(ticker), "price": round(price, 4), "shares": shares,
                            "cost": round(model.fill_cost(shares, price), 4),
                            "cost_bps": round(model.cost_bps(shares, price), 4)}
    report = {"generated_at": utc_now_iso(), "model": settings.costs.model_dump(),
              "typical_order_notional": notional, "realized": realized, "modelled": modelled}
    path = write_json_atomic(automation_dir() / OUTPUT, report)
    return {"output": str(path), "trades": realized["overall"]["trades"],
            "realized_cost_bps": realized["overall"]["cost_bps"],
            "modelled_cost_bps": {t: m["cost_bps"] for t, m in modelled.items()}}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 on success, 1 if the run failed, 2 on bad arguments or config."""
    return cli_main(NAME, build_parser(), run, argv, single_thread_blas=True)


if __name__ == "__main__":
    sys.exit(main())
