"""sweep_ts_thresholds entrypoint: grid over (confidence, min return) on stored and walk-forward forecasts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from portfolio.database_manager import DatabaseManager
from scripts import sweep_ts_thresholds as job
from tests.trading_support import (
    assert_help,
    assert_one_line_error,
    entrypoint_events,
    last_json,
    override_config,
    random_walk,
    seed_ensemble_forecast,
    seed_ohlcv,
)

NAME = "sweep_ts_thresholds"


def seed_panel(ticker: str = "AAPL", n: int = 80, seed: int = 3) -> None:
    """Stored forecasts: confident ones (0.9) foresee the 5-bar move, unconfident ones (0.4) invert it."""
    db = DatabaseManager()
    closes = random_walk(n, seed=seed, vol=0.02)
    dates = seed_ohlcv(db, ticker, closes)
    for i in range(0, n - 5):
        realized = float(np.log(closes[i + 5] / closes[i]))
        confident = i % 2 == 0
        seed_ensemble_forecast(db, ticker, dates[i], f"etl-{i}",
                               expected_return=realized if confident else -realized,
                               confidence=0.9 if confident else 0.4)


def test_help(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_help(job.main, capsys, NAME, "--confidence-grid", "--return-grid", "--origins")


@pytest.mark.parametrize(("argv", "text"), [
    (["--confidence-grid", "0.5,1.5"], "confidence_grid: 1.5 outside [0.0, 1.0]"),
    (["--return-grid", "abc"], "return_grid: 'abc' is not a number"),
    (["--return-grid", "-0.01"], "return_grid: -0.01 outside"),
    (["--origins", "-1"], "origins=-1"),
    (["--min-trades", "many"], "invalid int value"),
], ids=["confidence-above-1", "not-a-number", "negative-return", "negative-origins", "non-integer"])
def test_bad_arguments_exit_2_with_one_line(pmx_home: Path, capsys: pytest.CaptureFixture[str],
                                            argv: list[str], text: str) -> None:
    assert text in assert_one_line_error(job.main, argv, capsys, NAME)


def test_sweep_on_stored_forecasts_finds_the_confident_pair(pmx_home: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    seed_panel()
    argv = ["--tickers", "AAPL", "--confidence-grid", "0.3,0.8", "--return-grid", "0,0.001", "--origins", "0",
            "--min-trades", "3"]
    assert job.main(argv) == 0
    out = last_json(capsys)
    report = json.loads((pmx_home / "logs" / "automation" / "ts_threshold_sweep.json").read_text())
    assert out["panel_origins"] == {"stored": 75} and out["pairs"] == 4 and len(report["grid"]) == 4
    assert report["best"]["confidence_threshold"] == 0.8  # only the confident forecasts are worth trading
    assert report["best"]["hit_rate"] == 1.0
    low = next(g for g in report["grid"]
               if g["confidence_threshold"] == 0.3 and g["min_expected_return"] == 0)
    assert low["hit_rate"] < 1.0 and low["trades"] > report["best"]["trades"]
    from portfolio.settings import load_settings

    assert report["current"]["confidence_threshold"] == load_settings().signals.confidence_threshold
    assert entrypoint_events(NAME) == ["entrypoint_start", "entrypoint_finish"]


def test_walk_forward_tops_up_a_thin_panel(pmx_home: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    override_config(pmx_home, monkeypatch, {"forecasting": {"models": ["ssa"]}})
    seed_ohlcv(DatabaseManager(), "AAPL", random_walk(140, seed=2))
    assert job.main(["--tickers", "AAPL", "--origins", "3", "--min-trades", "0"]) == 0
    out = last_json(capsys)
    assert out["panel_origins"] == {"walk_forward": 3} and out["best"] is not None
