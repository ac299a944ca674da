"""Daily market-data ETL: extract (cache, failover) -> validate -> load into SQLite -> forecast, per ticker.

Parameters fall back to the seed's environment (CRON_TICKERS, CRON_START_DATE, CRON_END_DATE, CRON_EXEC_MODE,
PIPELINE_DEVICE, ENABLE_GPU_PARALLEL, ENABLE_PARALLEL_TICKER_PROCESSING), then to config/pipeline.yml.
A retried run with the same --run-id resumes each ticker after its last completed stage.
The Airflow DAG calls :func:`run_batch` once per batch of tickers (every stage of each ticker, in-process), then
:func:`run_stage` with ``stage="all"`` once per ticker that failed in its batch (resuming from its checkpoint).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scripts.entrypoint import add_run_arguments, cli_main, make_parser

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

NAME = "run_etl_pipeline"
STAGES = ("extract", "quality", "load", "forecast", "all")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    add_run_arguments(parser)
    parser.add_argument("--run-id", help="run id (default manual__<UTC timestamp>); reuse it to resume")
    parser.add_argument("--no-forecast", dest="forecast", action="store_false",
                        help="skip the forecast stage")
    parser.add_argument("--parallel-tickers", dest="enable_parallel_tickers", choices=["0", "1"],
                        help="process tickers in threads (env ENABLE_PARALLEL_TICKER_PROCESSING)")
    parser.add_argument("--gpu-parallel", dest="enable_gpu_parallel", choices=["0", "1"],
                        help="GPU-parallel forecasting when a GPU is present (env ENABLE_GPU_PARALLEL)")
    parser.add_argument("--fresh", action="store_true", help="ignore checkpoints of this run id")
    return parser


def run(*, inputs: RunInputs | None = None, run_id: str | None = None, forecast: bool = True,
        fresh: bool = False) -> dict[str, Any]:
    """Run the ETL for every ticker; return the run summary (raises if any ticker failed)."""
    from portfolio.checkpoint_manager import CheckpointManager
    from portfolio.etl import run_etl
    from portfolio.run_inputs import default_inputs

    params = (inputs or default_inputs()).params
    run_id = run_id or f"manual__{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}"
    prefix = f"{NAME}__{run_id}"
    if fresh:
        checkpoints = CheckpointManager()
        for ticker in params.tickers:
            checkpoints.clear(f"{prefix}__{ticker}")
    summary = run_etl(params, run_id, forecast=forecast, pipeline_prefix=prefix)
    summary["params"] = params.as_dict()
    return summary


def run_batch(*, tickers: list[str], run_id: str, pipeline_prefix: str, inputs: RunInputs | None = None,
              threads: int = 1, forecast: bool = True) -> dict[str, Any]:
    """Every stage of each ticker of one batch; a failing ticker never stops the others, nor fails the batch.

    Each ticker checkpoints under ``<pipeline_prefix>__<ticker>`` (what :func:`run_stage` resumes from).
    Returns a small dict: ``tickers`` (the batch), ``succeeded``, ``failed`` (ticker -> error type, bounded
    message, ``rejected`` when the quality gate refused the data, with the broken ``rules``), ``rows_loaded``,
    ``sources`` (ticker -> the source its data came from, for the succeeded ones), ``seconds``.
    """
    from portfolio.etl import EtlError, run_etl
    from portfolio.params import ParameterError
    from portfolio.run_inputs import default_inputs

    if not tickers:
        raise ParameterError("run_batch needs at least one ticker")
    params = (inputs or default_inputs()).for_tickers(list(tickers)).params
    try:
        summary = run_etl(params, run_id, forecast=forecast, pipeline_prefix=pipeline_prefix,
                          max_workers=min(threads, len(params.tickers)), parallel=threads > 1)
    except EtlError as exc:
        summary = exc.summary
    return {"run_id": run_id, "tickers": list(params.tickers), "succeeded": sorted(summary["results"]),
            "failed": summary["failures"], "rows_loaded": summary["rows_loaded"], "sources": summary["sources"],
            "seconds": summary["seconds"]}


def run_stage(*, stage: str, ticker: str | None = None, run_id: str, pipeline_id: str | None = None,
              inputs: RunInputs | None = None) -> dict[str, Any]:
    """One stage of one ticker (``extract``, ``quality``, ``load``, ``forecast``) or ``all`` of them.

    Each completed stage is checkpointed under ``pipeline_id`` (default ``etl__<run_id>__<ticker>``): calling a
    stage again whose checkpoint exists returns it without redoing the work (``resumed: True``), and a later
    ``all`` call with the same id resumes after it. Returns a small dict (paths and counts).
    """
    from foundation.pipeline_logger import get_logger
    from portfolio import etl
    from portfolio.checkpoint_manager import CheckpointManager
    from portfolio.params import ParameterError
    from portfolio.run_inputs import default_inputs

    if stage not in STAGES:
        raise ParameterError(f"stage={stage!r}: expected one of {', '.join(STAGES)}")
    if not ticker:
        raise ParameterError(f"stage={stage!r} needs a ticker")
    params = (inputs or default_inputs()).for_tickers(ticker).params
    ticker = params.tickers[0]
    pipeline_id = pipeline_id or etl.default_pipeline_id(run_id, ticker)
    if stage == "all":
        return etl.run_ticker_etl(ticker, params, run_id, pipeline_id=pipeline_id)
    checkpoints = CheckpointManager()
    checkpoint = "validate" if stage == "quality" else stage
    done = checkpoints.load(pipeline_id, checkpoint)
    if done is not None:  # a retry after the stage completed (e.g. the worker died before reporting success)
        get_logger(NAME).log_event("stage_resumed", ticker=ticker, stage=stage, pipeline_id=pipeline_id)
        return {"stage": stage, "ticker": ticker, "run_id": run_id, "resumed": True, **done}
    if stage == "extract":
        result = etl.extract_ticker(ticker, params, run_id)
    elif stage == "quality":
        result = etl.validate_ticker(ticker, run_id)
    elif stage == "load":
        result = etl.load_ticker(ticker, run_id)
    else:
        result = etl.forecast_stage(ticker, run_id)
    checkpoints.save(pipeline_id, checkpoint, result)
    return {"stage": stage, "ticker": ticker, "run_id": run_id, **result}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 on success, 1 if the run failed, 2 on bad arguments or config."""
    return cli_main(NAME, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
