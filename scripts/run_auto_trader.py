"""Auto-trader: one bar-aware paper-trading cycle over the tickers (time-series signals, fallback second).

Cron (seed): ``auto_trader`` every 30 min 7-20 on weekdays; ``auto_trader_core`` hourly with ``--core-mode``
(only tickers.core, at most broker.core_max_trades_per_day core trades a day). A second cycle on the same
bar does nothing. Parameters fall back to CRON_TICKERS, CRON_START_DATE, CRON_END_DATE, CRON_EXEC_MODE,
PIPELINE_DEVICE, ENABLE_GPU_PARALLEL and ENABLE_PARALLEL_TICKER_PROCESSING, then to config/pipeline.yml.
Exit 1 when any ticker failed (the others still trade).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scripts.entrypoint import add_run_arguments, cli_main, make_parser

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

NAME = "run_auto_trader"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    add_run_arguments(parser)
    parser.add_argument("--core-mode", action="store_true",
                        help="trade only tickers.core, capped at broker.core_max_trades_per_day")
    parser.add_argument("--run-id", help="run id (default manual__<UTC timestamp>)")
    parser.add_argument("--parallel-tickers", dest="enable_parallel_tickers", choices=["0", "1"],
                        help="trade tickers in threads (env ENABLE_PARALLEL_TICKER_PROCESSING)")
    parser.add_argument("--gpu-parallel", dest="enable_gpu_parallel", choices=["0", "1"],
                        help="GPU-parallel preparation when a GPU exists (env ENABLE_GPU_PARALLEL)")
    return parser


def run(*, inputs: RunInputs | None = None, core_mode: bool = False, run_id: str | None = None,
        ticker: str | None = None) -> dict[str, Any]:
    """Run one trading cycle (of ``ticker`` alone when given); return counts, per-ticker results and ids
    (raises if a ticker failed)."""
    from portfolio.run_inputs import default_inputs
    from portfolio.trader import run_cycle

    inputs = inputs or default_inputs(core=core_mode)
    params = (inputs.for_tickers(ticker) if ticker else inputs).params
    run_id = run_id or f"manual__{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}"
    summary = run_cycle(params, run_id, core_mode=core_mode)
    summary["device"] = params.pipeline_device
    return summary


def run_batch(*, tickers: list[str], inputs: RunInputs | None = None, core_mode: bool = False,
              run_id: str | None = None) -> dict[str, Any]:
    """One cycle over a batch of tickers; a failing ticker never stops the others, nor fails the batch.

    Returns a small dict: ``tickers`` (the batch), ``succeeded``, ``failed`` (ticker -> bounded error),
    ``traded``, ``skipped``, ``signals`` (action -> count), ``duration_s``. The per-ticker results stay in the
    ``trade_cycle_ticker`` events.
    """
    from portfolio.params import ParameterError
    from portfolio.run_inputs import default_inputs
    from portfolio.trader import run_cycle

    if not tickers:
        raise ParameterError("run_batch needs at least one ticker")
    params = (inputs or default_inputs(core=core_mode)).for_tickers(list(tickers)).params
    run_id = run_id or f"manual__{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}"
    summary = run_cycle(params, run_id, core_mode=core_mode, strict=False)
    failed = {ticker: str(error)[:300] for ticker, error in summary["errors"].items()}
    return {"run_id": run_id, "tickers": list(params.tickers), "failed": failed,
            "succeeded": [r["ticker"] for r in summary["results"] if r["ticker"] not in failed],
            **{k: summary[k] for k in ("traded", "skipped", "signals", "duration_s")}}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 on success, 1 if the cycle failed, 2 on bad arguments or config."""
    return cli_main(NAME, build_parser(), run, argv, single_thread_blas=True)


if __name__ == "__main__":
    sys.exit(main())
