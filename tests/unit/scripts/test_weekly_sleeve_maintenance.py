"""weekly_sleeve_maintenance entrypoint: rank tickers into core / speculative / inactive sleeves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from portfolio.database_manager import DatabaseManager
from scripts import weekly_sleeve_maintenance as job
from tests.trading_support import (
    assert_help,
    assert_one_line_error,
    entrypoint_events,
    last_json,
    override_config,
    seed_ohlcv,
)

NAME = "weekly_sleeve_maintenance"


def _series(step: float, noise: float, seed: int, n: int = 70) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(100 * np.exp(np.cumsum(step + rng.normal(0, noise, n))))


def test_help(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_help(job.main, capsys, NAME, "--lookback", "--min-sharpe", "--max-core")


@pytest.mark.parametrize("argv", [["--lookback", "5"], ["--max-core", "-1"], ["--min-sharpe", "high"]],
                         ids=["short-lookback", "negative-core", "not-a-number"])
def test_bad_arguments_exit_2(pmx_home: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert_one_line_error(job.main, argv, capsys, NAME)


def test_sleeves_promotions_and_demotions(pmx_home: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    override_config(pmx_home, monkeypatch, {"tickers": {"default": ["AAPL", "MSFT", "GOOGL", "NVDA"],
                                                        "core": ["AAPL", "NVDA"]}})
    db = DatabaseManager()
    seed_ohlcv(db, "AAPL", _series(-0.004, 0.01, 1))   # falling: leaves core
    seed_ohlcv(db, "MSFT", _series(0.003, 0.008, 2))   # steady riser: joins core
    seed_ohlcv(db, "GOOGL", _series(0.0005, 0.03, 3))  # noisy, flat-ish: speculative
    seed_ohlcv(db, "NVDA", _series(0.002, 0.01, 4)[:20])  # too few bars: inactive
    assert job.main(["--lookback", "60", "--max-core", "1"]) == 0
    out = last_json(capsys)
    assert out["sleeves"] == {"core": ["MSFT"], "speculative": ["AAPL", "GOOGL"], "inactive": ["NVDA"]}
    assert (out["promotions"], out["demotions"]) == (["MSFT"], ["AAPL", "NVDA"])
    report = json.loads((pmx_home / "logs" / "automation" / "sleeve_maintenance.json").read_text())
    assert report["tickers"]["MSFT"]["sharpe"] > 0.5 > report["tickers"]["AAPL"]["sharpe"]
    assert report["tickers"]["NVDA"]["bars"] == 20 and report["current_core"] == ["AAPL", "NVDA"]
    assert entrypoint_events(NAME) == ["entrypoint_start", "entrypoint_finish"]
