"""backfill_signal_validation entrypoint: realised returns from later bars, hit rates, idempotence."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from portfolio.database_manager import DatabaseManager
from scripts import backfill_signal_validation as job
from tests.trading_support import assert_help, assert_one_line_error, entrypoint_events, last_json, seed_ohlcv

NAME = "backfill_signal_validation"
CLOSES = [100.0 + i for i in range(20)]  # 100, 101, ..., 119


def _signals(ticker: str, dates: list[str], rows: list[tuple[int, str, str]]) -> None:
    with DatabaseManager().transaction() as conn:
        conn.executemany("INSERT INTO signals (run_id, ticker, bar, created_at, action, confidence, "
                         "expected_return, source) VALUES ('r', ?, ?, 't', ?, 0.6, 0.01, ?)",
                         [(ticker, dates[i], action, source) for i, action, source in rows])


def _realized() -> dict[tuple[str, str], float | None]:
    conn = DatabaseManager().connect()
    try:
        return {(r[0], r[1]): r[2] for r in conn.execute("SELECT ticker, bar, realized_return FROM signals")}
    finally:
        conn.close()


def test_help(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_help(job.main, capsys, NAME, "--horizon")


@pytest.mark.parametrize("argv", [["--horizon", "x"], ["--horizon", "0"], ["--end-date", "2024-13-01"]],
                         ids=["not-a-number", "zero", "bad-date"])
def test_bad_arguments_exit_2(pmx_home: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert_one_line_error(job.main, argv, capsys, NAME)


def test_fills_realised_returns_once_the_horizon_has_passed(pmx_home: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    db = DatabaseManager()
    dates = seed_ohlcv(db, "AAPL", CLOSES)
    _signals("AAPL", dates, [(2, "BUY", "time_series"), (5, "SELL", "fallback"), (8, "HOLD", "time_series"),
                             (17, "BUY", "time_series")])
    assert job.main(["--horizon", "3"]) == 0
    out = last_json(capsys)
    assert (out["filled"], out["pending"]) == (3, 1)  # bar 17 + 3 is past the last bar (19)
    assert (out["scored"], out["hits"], out["hit_rate"]) == (2, 1, 0.5)  # the BUY rose (hit), the SELL rose
    assert out["by_source"]["fallback"] == {"scored": 1, "hits": 0, "hit_rate": 0.0}
    realized = _realized()
    assert realized[("AAPL", dates[2])] == pytest.approx(math.log(105 / 102))
    assert realized[("AAPL", dates[17])] is None
    assert entrypoint_events(NAME) == ["entrypoint_start", "entrypoint_finish"]
    assert job.main(["--horizon", "3"]) == 0
    assert last_json(capsys)["filled"] == 0  # already validated rows are left alone


def test_explicit_tickers_limit_the_backfill(pmx_home: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    db = DatabaseManager()
    for t in ("AAPL", "MSFT"):
        dates = seed_ohlcv(db, t, CLOSES)
        _signals(t, dates, [(1, "BUY", "time_series")])
    monkeypatch.setenv("CRON_TICKERS", "MSFT")
    assert job.main([]) == 0
    out = last_json(capsys)
    assert (out["filled"], out["pending"], out["tickers"]) == (1, 1, ["MSFT"])
