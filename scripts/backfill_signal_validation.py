"""Nightly signal validation backfill: fill ``signals.realized_return`` / ``validated_at`` from later bars.

A signal on bar B is validated once ``--horizon`` bars (default forecasting.horizon) exist after B:
``realized_return = ln(close[B + horizon] / close[B])``. A BUY is a hit when the realised return is positive,
a SELL when it is negative; HOLDs are validated but not scored. Without ``--tickers`` / CRON_TICKERS every
ticker with pending signals is processed. Cron (seed): ``nightly_backfill`` at 2:05 daily.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from scripts.entrypoint import add_run_arguments, cli_main, make_parser

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

NAME = "backfill_signal_validation"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    add_run_arguments(parser)
    parser.add_argument("--horizon", type=int, help="bars after the signal (default forecasting.horizon)")
    return parser


def run(*, inputs: RunInputs | None = None,
        horizon: int | None = None) -> dict[str, Any]:
    """Validate pending signals whose horizon has passed; return counts and hit rates."""
    from foundation.pipeline_logger import get_logger
    from portfolio.database_manager import DatabaseManager
    from portfolio.params import ParameterError
    from portfolio.run_inputs import default_inputs
    from portfolio.settings import load_settings
    from portfolio.signal_validation import backfill

    inputs = inputs or default_inputs()
    params, explicit = inputs.params, inputs.tickers_given
    steps = horizon if horizon is not None else load_settings().forecasting.horizon
    if steps < 1:
        raise ParameterError(f"horizon={steps}: must be at least 1 bar")
    summary = backfill(DatabaseManager(), steps, params.tickers if explicit else None)
    get_logger(NAME).log_event("signal_backfill", **summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 on success, 1 if the run failed, 2 on bad arguments or config."""
    return cli_main(NAME, build_parser(), run, argv, single_thread_blas=True)


if __name__ == "__main__":
    sys.exit(main())
