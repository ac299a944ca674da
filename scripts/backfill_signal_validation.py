"""Nightly signal validation backfill: fill ``signals.realized_return`` / ``validated_at`` from later bars.

A signal on bar B is validated once ``--horizon`` bars (default forecasting.horizon) exist after B:
``realized_return = ln(close[B + horizon] / close[B])``. A BUY is a hit when the realised return is positive,
a SELL when it is negative; HOLDs are validated but not scored. Without ``--tickers`` / CRON_TICKERS every
ticker with pending signals is processed. Cron (seed): ``nightly_backfill`` at 2:05 daily.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from scripts.entrypoint import add_run_arguments, cli_main, make_parser

NAME = "backfill_signal_validation"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    add_run_arguments(parser)
    parser.add_argument("--horizon", type=int, help="bars after the signal (default forecasting.horizon)")
    return parser


def run(*, tickers: str | list[str] | None = None, start: str | None = None, end: str | None = None,
        mode: str | None = None, pipeline_device: str | None = None,
        horizon: int | None = None) -> dict[str, Any]:
    """Validate pending signals whose horizon has passed; return counts and hit rates."""
    from foundation.pipeline_logger import get_logger
    from portfolio.database_manager import DatabaseManager
    from portfolio.params import ParameterError, resolve
    from portfolio.settings import load_settings
    from portfolio.signal_validation import backfill

    params = resolve(tickers=tickers, start=start, end=end, mode=mode, pipeline_device=pipeline_device)
    explicit = bool(tickers) or bool(os.environ.get("CRON_TICKERS"))
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
