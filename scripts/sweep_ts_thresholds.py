"""Weekly sweep of the time-series signal thresholds: (confidence_threshold, min_expected_return) over a grid.

Each pair is scored by a vectorised backtest of the signal rule on a panel of ensemble forecasts and the
returns realised ``forecasting.horizon`` bars later: stored forecasts first, topped up by a walk-forward
replay of the models at ``--origins`` past bars per ticker when fewer than ``--min-rows`` exist. The best
pair has the highest net total return (then Sharpe) among pairs with at least ``--min-trades`` trades.
Writes ``logs/automation/ts_threshold_sweep.json`` (grid, best pair, the configured pair's score).
Cron (seed): ``ts_threshold_sweep`` at 4:00 on Mondays. Config is not changed: the file is a proposal.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from scripts.entrypoint import add_run_arguments, cli_main, make_parser

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

NAME = "sweep_ts_thresholds"
OUTPUT = "ts_threshold_sweep.json"
DEFAULT_CONFIDENCE = "0.3,0.4,0.5,0.55,0.6,0.7,0.8"
DEFAULT_RETURNS = "0,0.001,0.002,0.005,0.01"


def parse_grid(name: str, text: str | list[float], low: float, high: float | None) -> list[float]:
    """Comma-separated floats within [low, high]; raises ParameterError naming the bad value."""
    from portfolio.params import ParameterError

    items = text.split(",") if isinstance(text, str) else list(text)
    values = []
    for raw in items:
        try:
            v = float(str(raw).strip())
        except ValueError:
            raise ParameterError(f"{name}: {raw!r} is not a number") from None
        if v < low or (high is not None and v > high):
            raise ParameterError(f"{name}: {v} outside [{low}, {high if high is not None else 'inf'}]")
        values.append(v)
    if not values:
        raise ParameterError(f"{name}: empty grid")
    return sorted(set(values))


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    add_run_arguments(parser)
    parser.add_argument("--confidence-grid", default=DEFAULT_CONFIDENCE,
                        help="comma-separated values in [0, 1]")
    parser.add_argument("--return-grid", default=DEFAULT_RETURNS, help="comma-separated values >= 0")
    parser.add_argument("--origins", type=int, default=20, help="walk-forward origins per ticker (0 = none)")
    parser.add_argument("--min-rows", type=int, default=30, help="stored rows below which to walk forward")
    parser.add_argument("--min-trades", type=int, default=5, help="trades a pair needs to be eligible")
    return parser


def run(*, inputs: RunInputs | None = None,
        confidence_grid: str | list[float] = DEFAULT_CONFIDENCE,
        return_grid: str | list[float] = DEFAULT_RETURNS,
        origins: int = 20, min_rows: int = 30, min_trades: int = 5) -> dict[str, Any]:
    """Sweep the grid; write the JSON report; return the best pair and panel size."""
    from foundation.pipeline_logger import utc_now_iso
    from portfolio.automation import automation_dir, write_json_atomic
    from portfolio.backtest import build_panel, evaluate, sweep
    from portfolio.costs import CostModel
    from portfolio.database_manager import DatabaseManager
    from portfolio.params import ParameterError
    from portfolio.run_inputs import default_inputs
    from portfolio.settings import load_settings

    params = (inputs or default_inputs()).params
    conf = parse_grid("confidence_grid", confidence_grid, 0.0, 1.0)
    rets = parse_grid("return_grid", return_grid, 0.0, None)
    for name, value in (("origins", origins), ("min_rows", min_rows), ("min_trades", min_trades)):
        if value < 0:
            raise ParameterError(f"{name}={value}: must be >= 0")
    settings = load_settings()
    horizon = settings.forecasting.horizon
    panel = build_panel(DatabaseManager(), params.tickers, settings, origins=origins, min_rows=min_rows)
    cost = CostModel.from_settings(settings.costs)
    notional = settings.broker.max_position_fraction * settings.broker.initial_cash
    result = sweep(panel, conf, rets, cost_model=cost, notional=notional, min_trades=min_trades,
                   horizon=horizon)
    current = evaluate(panel, settings.signals.confidence_threshold, settings.signals.min_expected_return,
                       cost_model=cost, notional=notional, horizon=horizon)
    origin_counts = {str(k): int(v) for k, v in panel["origin"].value_counts().items()}
    report = {"generated_at": utc_now_iso(), "tickers": params.tickers, "horizon": horizon,
              "panel_rows": len(panel), "panel_origins": origin_counts, "min_trades": min_trades,
              "confidence_grid": conf, "return_grid": rets, "grid": result["grid"], "best": result["best"],
              "eligible": result["eligible"], "current": current}
    path = write_json_atomic(automation_dir() / OUTPUT, report)
    return {"output": str(path), "panel_rows": len(panel), "panel_origins": origin_counts,
            "pairs": len(result["grid"]), "eligible": result["eligible"], "best": result["best"]}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 on success, 1 if the run failed, 2 on bad arguments or config."""
    return cli_main(NAME, build_parser(), run, argv, single_thread_blas=True)


if __name__ == "__main__":
    sys.exit(main())
