"""Quant validation health: GREEN / YELLOW / RED from the paper account's Sharpe, Sortino, drawdown, win rate.

Thresholds live in ``quant_health`` of config/pipeline.yml (fewer than ``min_trades`` closing trades is
YELLOW). Prints the colour, reasons and metrics as JSON, writes them to
``logs/automation/quant_validation_health.json`` and sets the ``pmx.quant.health`` gauge (0/1/2).
Exit 0 for every colour, unless ``--fail-on-red`` is given: then RED exits 1 with a one-line reason.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from scripts.entrypoint import add_run_arguments, cli_main, make_parser

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

NAME = "check_quant_validation_health"
EXIT_RED = 1


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    add_run_arguments(parser)
    parser.add_argument("--fail-on-red", action="store_true", help="exit 1 when the colour is RED")
    return parser


def run(*, inputs: RunInputs | None = None,
        fail_on_red: bool = False) -> dict[str, Any]:
    """Classify the account's health; return colour, level, reasons and metrics."""
    from foundation.pipeline_logger import utc_now_iso
    from portfolio.automation import automation_dir, write_json_atomic
    from portfolio.database_manager import DatabaseManager
    from portfolio.quant_health import check_health
    from portfolio.run_inputs import default_inputs

    inputs = inputs or default_inputs()  # the parameters must resolve, although the check uses none of them
    result = check_health(DatabaseManager())
    out = {"generated_at": utc_now_iso(), **result}
    path = write_json_atomic(automation_dir() / "quant_validation_health.json", out)
    return {**out, "fail_on_red": fail_on_red, "output": str(path)}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 (any colour), 1 on RED with --fail-on-red or a failed run, 2 on bad arguments."""
    seen: dict[str, Any] = {}

    def run_and_keep(*, inputs: RunInputs | None = None, **kwargs: Any) -> dict[str, Any]:
        seen.update(run(inputs=inputs, **kwargs))
        return seen

    code = cli_main(NAME, build_parser(), run_and_keep, argv, single_thread_blas=True)
    if code == 0 and seen.get("fail_on_red") and seen.get("colour") == "RED":
        print(f"{NAME}: RED: {'; '.join(seen.get('reasons', []))}", file=sys.stderr)
        return EXIT_RED
    return code


if __name__ == "__main__":
    sys.exit(main())
