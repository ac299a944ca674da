"""Forecaster and system monitoring (the seed's ``monitor_llm_system``; here the forecasters replace the LLM).

Measures each configured model's latency (one fit plus one forecast on the last ``--points`` closes of the
first ticker with enough bars, or on a seeded random walk when the database has none), summarises recent
holdout MAPE / RMSE / directional accuracy per model from ``forecast_metrics`` (last ``--runs`` rows per
model, with non-convergence counts), the validated signal hit rates per source, and the quant health colour.
Writes ``logs/latency_benchmark.json`` and ``logs/forecaster_monitoring.json``. Cron (seed): hourly at :05.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from scripts.entrypoint import add_run_arguments, cli_main, make_parser

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

NAME = "monitor_llm_system"
LATENCY_FILE = "latency_benchmark.json"
MONITORING_FILE = "forecaster_monitoring.json"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    add_run_arguments(parser)
    parser.add_argument("--points", type=int, default=250, help="closes per latency fit (>= 60)")
    parser.add_argument("--runs", type=int, default=20, help="recent forecast_metrics rows per model")
    return parser


def run(*, inputs: RunInputs | None = None, points: int = 250,
        runs: int = 20) -> dict[str, Any]:
    """Collect latency, model quality, signal and health summaries; write both JSON files."""
    from foundation import paths
    from foundation.pipeline_logger import utc_now_iso
    from portfolio.automation import write_json_atomic
    from portfolio.database_manager import DatabaseManager
    from portfolio.forecaster_monitor import latency_series, model_latency, model_quality, signal_summary
    from portfolio.params import ParameterError
    from portfolio.quant_health import check_health
    from portfolio.run_inputs import default_inputs
    from portfolio.settings import load_settings

    params = (inputs or default_inputs()).params
    if points < 60:
        raise ParameterError(f"points={points}: need at least 60 closes for a latency fit")
    if runs < 1:
        raise ParameterError(f"runs={runs}: must be at least 1")
    settings = load_settings()
    db = DatabaseManager()
    now = utc_now_iso()
    label, closes = latency_series(db, params.tickers, points)
    latency = model_latency(closes, settings.forecasting)
    bench = {"generated_at": now, "device": params.pipeline_device, "series": label, "points": len(closes),
             "horizon": settings.forecasting.horizon, "models": latency}
    conn = db.connect()
    try:
        quality = model_quality(conn, runs)
        signals = signal_summary(conn)
    finally:
        conn.close()
    health = check_health(db, settings)
    report = {"generated_at": now, "models": quality, "signals": signals, "quant_health": health,
              "latency": latency}
    logs = paths.logs_dir()
    write_json_atomic(logs / LATENCY_FILE, bench)
    write_json_atomic(logs / MONITORING_FILE, report)
    return {"latency_file": str(logs / LATENCY_FILE), "monitoring_file": str(logs / MONITORING_FILE),
            "latency_ms": {m: v.get("fit_ms") for m, v in latency.items()},
            "mape": {m: v["mape"] for m, v in quality.items()}, "quant_health": health["colour"],
            "signal_hit_rate": signals["hit_rate"]}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 on success, 1 if the run failed, 2 on bad arguments or config."""
    return cli_main(NAME, build_parser(), run, argv, single_thread_blas=True)


if __name__ == "__main__":
    sys.exit(main())
