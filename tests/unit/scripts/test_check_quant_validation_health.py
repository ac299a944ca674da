"""check_quant_validation_health entrypoint: colour output, exit codes, JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portfolio.database_manager import DatabaseManager
from scripts import check_quant_validation_health as job
from tests.trading_support import assert_help, assert_one_line_error, entrypoint_events, last_json

NAME = "check_quant_validation_health"


def _account(curve: list[float], pnls: list[float]) -> None:
    days = [f"2024-02-{i + 1:02d}" for i in range(len(curve))]
    with DatabaseManager().transaction() as conn:
        conn.executemany("INSERT INTO equity_snapshots (ts, run_id, cash, equity, pnl, bar) "
                         "VALUES (?, 'r', 0, ?, 0, ?)",
                         [(f"{d}T15:00Z", v, d) for d, v in zip(days, curve, strict=True)])
        conn.executemany("INSERT INTO trades (run_id, ticker, bar, ts, side, quantity, price, cost, "
                         "realized_pnl) VALUES ('r', 'AAPL', 'b', 't', 'SELL', 1, 1, 0, ?)",
                         [(p,) for p in pnls])


def test_help(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_help(job.main, capsys, NAME, "--fail-on-red")


def test_bad_argument_exits_2(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_one_line_error(job.main, ["--fail-on-red=yes"], capsys, NAME)


def test_bad_environment_exits_2(pmx_home: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRON_EXEC_MODE", "paper")
    assert "execution_mode='paper'" in assert_one_line_error(job.main, [], capsys, NAME)


@pytest.mark.parametrize(("curve", "pnls", "argv", "colour", "code"), [
    ([100, 101, 102, 103, 104, 105], [1.0] * 5, ["--fail-on-red"], "GREEN", 0),
    ([100, 101], [1.0], ["--fail-on-red"], "YELLOW", 0),
    ([100, 90, 80, 70, 60, 50], [-1.0] * 5, [], "RED", 0),
    ([100, 90, 80, 70, 60, 50], [-1.0] * 5, ["--fail-on-red"], "RED", 1),
], ids=["green", "yellow", "red", "red-fail-on-red"])
def test_colour_and_exit_code(pmx_home: Path, capsys: pytest.CaptureFixture[str], curve: list[float],
                              pnls: list[float], argv: list[str], colour: str, code: int) -> None:
    _account(curve, pnls)
    assert job.main(argv) == code
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["colour"] == colour and out["reasons"]
    if code:
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{NAME}: RED: ")
    written = json.loads((pmx_home / "logs" / "automation" / "quant_validation_health.json").read_text())
    assert written["colour"] == colour and "generated_at" in written
    assert entrypoint_events(NAME) == ["entrypoint_start", "entrypoint_finish"]


def test_empty_account_is_yellow(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert job.main([]) == 0
    assert last_json(capsys)["colour"] == "YELLOW"
