"""run_auto_trader entrypoint: CLI contract, seed environment variables, events, core mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from portfolio.database_manager import DatabaseManager
from scripts import run_auto_trader
from tests.trading_support import (
    assert_help,
    assert_one_line_error,
    count_rows,
    entrypoint_events,
    last_json,
    random_walk,
    seed_ensemble_forecast,
    seed_ohlcv,
)

NAME = "run_auto_trader"


def _market(*tickers: str) -> None:
    db = DatabaseManager()
    for i, t in enumerate(tickers):
        dates = seed_ohlcv(db, t, random_walk(150, seed=i + 1))
        seed_ensemble_forecast(db, t, dates[-1], "etl-1", expected_return=0.02, confidence=0.9)


def test_help(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_help(run_auto_trader.main, capsys, NAME, "--core-mode", "--tickers", "CRON_TICKERS")


@pytest.mark.parametrize("argv", [["--mode", "paper"], ["--bogus"], ["--parallel-tickers", "2"]],
                         ids=["bad-mode", "unknown-option", "bad-flag"])
def test_bad_arguments_exit_2_with_one_line(pmx_home: Path, capsys: pytest.CaptureFixture[str],
                                            argv: list[str]) -> None:
    assert "error:" in assert_one_line_error(run_auto_trader.main, argv, capsys, NAME)


@pytest.mark.parametrize(("var", "value", "text"), [
    ("CRON_TICKERS", "aapl$", "tickers"), ("CRON_START_DATE", "yesterday", "start_date"),
    ("ENABLE_GPU_PARALLEL", "maybe", "ENABLE_GPU_PARALLEL"),
], ids=["tickers", "start-date", "gpu-flag"])
def test_bad_environment_exits_2_naming_the_variable(pmx_home: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch, var: str, value: str,
                                                     text: str) -> None:
    monkeypatch.setenv(var, value)
    line = assert_one_line_error(run_auto_trader.main, [], capsys, NAME)
    assert text in line and "entrypoint_failed" in entrypoint_events(NAME)


def test_cycle_from_the_environment_emits_start_and_finish(pmx_home: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _market("AAPL", "MSFT")
    monkeypatch.setenv("CRON_TICKERS", "AAPL,MSFT")
    assert run_auto_trader.main(["--run-id", "cli-1"]) == 0
    out = last_json(capsys)
    assert (out["run_id"], out["tickers"], out["traded"], out["mode"]) == ("cli-1", 2, 2, "standard")
    assert entrypoint_events(NAME) == ["entrypoint_start", "entrypoint_finish"]
    assert run_auto_trader.main(["--run-id", "cli-2"]) == 0
    assert last_json(capsys)["skipped"] == 2  # same bar


def test_core_mode_uses_core_tickers(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _market("AAPL", "MSFT")  # tickers.core in config/pipeline.yml is [AAPL, MSFT]
    assert run_auto_trader.main(["--core-mode"]) == 0
    out = last_json(capsys)
    assert (out["mode"], out["tickers"], out["traded"]) == ("core", 2, 2)


def test_a_failed_ticker_exits_1_with_one_line(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _market("AAPL")
    line = assert_one_line_error(run_auto_trader.main, ["--tickers", "AAPL,NVDA"], capsys, NAME, code=1)
    assert "NVDA: no bars in ohlcv" in line
    assert count_rows(DatabaseManager(), "trades")["trades"] == 1
    assert entrypoint_events(NAME)[-1] == "entrypoint_failed"


def test_run_is_callable_as_a_function(pmx_home: Path) -> None:
    _market("AAPL")
    from portfolio.run_inputs import resolve_run_inputs

    out = run_auto_trader.run(inputs=resolve_run_inputs({"tickers": "AAPL"}, environ={}), run_id="fn-1")
    assert out["traded"] == 1 and out["device"] == "cpu"
