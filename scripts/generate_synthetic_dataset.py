"""Generate a reproducible synthetic OHLCV dataset (regime switching, Student-t shocks, XNYS sessions).

Saved under data/synthetic/<dataset_id>/ with a manifest (seed, tickers, dates, sha256) and, unless
--no-latest, pointed to by data/synthetic/latest (what SYNTHETIC_DATASET_ID=latest loads). The same
arguments give the same dataset id and the same bytes, so a retried run rewrites, never duplicates.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from scripts.entrypoint import add_run_arguments, cli_main, make_parser

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

NAME = "generate_synthetic_dataset"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    add_run_arguments(parser)
    parser.add_argument("--seed", type=int, help="random seed (default synthetic.seed of the config)")
    parser.add_argument("--dataset-id", help="dataset id (default derived from the arguments)")
    parser.add_argument("--no-latest", dest="set_latest", action="store_false",
                        help="do not move the 'latest' pointer to the new dataset")
    return parser


def run(*, inputs: RunInputs | None = None, seed: int | None = None, dataset_id: str | None = None,
        set_latest: bool = True) -> dict[str, Any]:
    """Generate and save the dataset; return its manifest summary (id, path, rows, sha256)."""
    from portfolio.params import ParameterError
    from portfolio.run_inputs import default_inputs
    from portfolio.synthetic import (
        EPOCH,
        DatasetError,
        check_dataset_id,
        datasets_dir,
        save_dataset,
        spec_from_settings,
    )

    params = (inputs or default_inputs()).params
    if params.start < EPOCH:
        raise ParameterError(f"start_date={params.start.isoformat()}: synthetic data starts at {EPOCH}")
    try:
        if dataset_id:
            check_dataset_id(dataset_id)
    except DatasetError as exc:
        raise ParameterError(f"dataset_id: {exc}") from None
    manifest = save_dataset(params.tickers, params.start, params.end, spec=spec_from_settings(seed=seed),
                            dataset_id=dataset_id, set_latest=set_latest)
    return {"dataset_id": manifest["dataset_id"], "path": str(datasets_dir() / manifest["dataset_id"]),
            "tickers": manifest["tickers"], "start": manifest["start"], "end": manifest["end"],
            "seed": manifest["seed"], "rows": sum(f["rows"] for f in manifest["files"].values()),
            "sha256": manifest["sha256"], "latest": set_latest}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 on success, 1 if generation failed, 2 on bad arguments or config."""
    return cli_main(NAME, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
