"""Strategy optimisation: seeded random search over signal thresholds and position size on the backtest.

Samples ``--trials`` parameter sets (confidence_threshold in [0.3, 0.9], min_expected_return in [0, 0.02],
position fraction in [0.02, 0.3]) with a seeded generator, scores each with the vectorised backtest of the
signal rule (the same panel as the threshold sweep: stored forecasts, topped up by a walk-forward replay)
and keeps those with at least ``--min-trades`` trades and a drawdown within quant_health.yellow.max_drawdown.
The best maximises log growth. Writes ``logs/automation/strategy_optimization.json``; config is not changed.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from scripts.entrypoint import add_run_arguments, cli_main, make_parser

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

NAME = "run_strategy_optimization"
OUTPUT = "strategy_optimization.json"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    add_run_arguments(parser)
    parser.add_argument("--trials", type=int, default=200, help="parameter sets to sample")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same search)")
    parser.add_argument("--origins", type=int, default=20, help="walk-forward origins per ticker (0 = none)")
    parser.add_argument("--min-rows", type=int, default=30, help="stored rows below which to walk forward")
    parser.add_argument("--min-trades", type=int, default=5, help="trades a parameter set needs to count")
    return parser


def run(*, inputs: RunInputs | None = None, trials: int = 200, seed: int = 42,
        origins: int = 20, min_rows: int = 30, min_trades: int = 5) -> dict[str, Any]:
    """Run the search; write the JSON report; return the best parameters."""
    from foundation.pipeline_logger import utc_now_iso
    from portfolio.automation import automation_dir, write_json_atomic
    from portfolio.backtest import build_panel, random_search
    from portfolio.costs import CostModel
    from portfolio.database_manager import DatabaseManager
    from portfolio.params import ParameterError
    from portfolio.run_inputs import default_inputs
    from portfolio.settings import load_settings

    params = (inputs or default_inputs()).params
    if trials < 1:
        raise ParameterError(f"trials={trials}: must be at least 1")
    for name, value in (("origins", origins), ("min_rows", min_rows), ("min_trades", min_trades)):
        if value < 0:
            raise ParameterError(f"{name}={value}: must be >= 0")
    settings = load_settings()
    panel = build_panel(DatabaseManager(), params.tickers, settings, origins=origins, min_rows=min_rows)
    cost = CostModel.from_settings(settings.costs)
    result = random_search(panel, trials=trials, seed=seed, cost_model=cost,
                           initial_cash=settings.broker.initial_cash,
                           max_drawdown=settings.quant_health.yellow.max_drawdown, min_trades=min_trades,
                           horizon=settings.forecasting.horizon)
    current = {"confidence_threshold": settings.signals.confidence_threshold,
               "min_expected_return": settings.signals.min_expected_return,
               "position_fraction": settings.broker.max_position_fraction}
    report = {"generated_at": utc_now_iso(), "tickers": params.tickers, "panel_rows": len(panel),
              "min_trades": min_trades, "current": current, **result}
    path = write_json_atomic(automation_dir() / OUTPUT, report)
    return {"output": str(path), "panel_rows": len(panel), "trials": trials, "seed": seed,
            "feasible": result["feasible"], "best": result["best"]}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 on success, 1 if the run failed, 2 on bad arguments or config."""
    return cli_main(NAME, build_parser(), run, argv, single_thread_blas=True)


if __name__ == "__main__":
    sys.exit(main())
