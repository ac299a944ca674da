"""Weekly sleeve maintenance (the seed's ``bash/weekly_sleeve_maintenance.sh``, in Python).

The portfolio has two sleeves: **core** (steady names the hourly ``--core-mode`` trader accumulates) and
**speculative** (the rest, traded only by the 30-minute cycle). Every Monday this job re-ranks the tickers
of tickers.default (or CRON_TICKERS / --tickers) and tickers.core over their last ``--lookback`` bars:

* per ticker: annualised return and volatility, Sharpe, max drawdown of the close, the paper account's
  realised PnL and closing-trade win rate for it, and the latest ensemble holdout MAPE;
* **core** candidates: Sharpe >= ``--min-sharpe`` and drawdown <= quant_health.yellow.max_drawdown, the best
  ``--max-core`` by Sharpe (default: as many as tickers.core has now);
* **speculative**: every other ticker with enough bars; **inactive**: fewer than half of ``--lookback`` bars.

It writes the proposal (sleeves, promotions into core, demotions out of it, per-ticker numbers) to
``logs/automation/sleeve_maintenance.json``. Config is never edited: an operator applies the proposal to
tickers.core. Cron (seed): ``weekly_sleeve_maintenance`` at 5:00 on Mondays.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from scripts.entrypoint import add_run_arguments, cli_main, make_parser

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

NAME = "weekly_sleeve_maintenance"
OUTPUT = "sleeve_maintenance.json"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    add_run_arguments(parser)
    parser.add_argument("--lookback", type=int, default=60, help="bars per ticker to rank on (>= 10)")
    parser.add_argument("--min-sharpe", type=float, default=0.5, help="minimum annualised Sharpe for core")
    parser.add_argument("--max-core", type=int, help="core sleeve size (default: current tickers.core size)")
    return parser


def run(*, inputs: RunInputs | None = None, lookback: int = 60,
        min_sharpe: float = 0.5, max_core: int | None = None) -> dict[str, Any]:
    """Rank the tickers into sleeves; write the proposal; return sleeves and changes."""
    from foundation.pipeline_logger import utc_now_iso
    from portfolio.automation import automation_dir, write_json_atomic
    from portfolio.database_manager import DatabaseManager
    from portfolio.params import ParameterError, parse_tickers
    from portfolio.run_inputs import default_inputs
    from portfolio.settings import load_settings
    from portfolio.sleeves import propose_sleeves

    params = (inputs or default_inputs()).params
    settings = load_settings()
    if lookback < 10:
        raise ParameterError(f"lookback={lookback}: need at least 10 bars")
    if max_core is not None and max_core < 0:
        raise ParameterError(f"max_core={max_core}: must be >= 0")
    proposal = propose_sleeves(
        DatabaseManager(), parse_tickers([*params.tickers, *settings.tickers.core], "tickers"),
        settings.tickers.core, lookback=lookback, min_sharpe=min_sharpe,
        max_drawdown_limit=settings.quant_health.yellow.max_drawdown,
        core_size=len(settings.tickers.core) if max_core is None else max_core,
        periods_per_year=settings.quant_health.periods_per_year)
    path = write_json_atomic(automation_dir() / OUTPUT, {"generated_at": utc_now_iso(), **proposal})
    return {"output": str(path), "sleeves": proposal["sleeves"], "promotions": proposal["promotions"],
            "demotions": proposal["demotions"]}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 on success, 1 if the run failed, 2 on bad arguments or config."""
    return cli_main(NAME, build_parser(), run, argv, single_thread_blas=True)


if __name__ == "__main__":
    sys.exit(main())
