"""estimate_transaction_costs entrypoint: realised and modelled costs written as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portfolio.costs import CostModel
from portfolio.database_manager import DatabaseManager
from portfolio.settings import load_settings
from scripts import estimate_transaction_costs as job
from tests.trading_support import assert_help, assert_one_line_error, entrypoint_events, last_json, seed_ohlcv

NAME = "estimate_transaction_costs"


def test_help(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_help(job.main, capsys, NAME, "--tickers")


def test_bad_argument_exits_2(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_one_line_error(job.main, ["--device", "tpu"], capsys, NAME)


def test_writes_realised_and_modelled_costs(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = DatabaseManager()
    seed_ohlcv(db, "AAPL", [200.0])
    with db.transaction() as conn:
        conn.execute("INSERT INTO trades (run_id, ticker, bar, ts, side, quantity, price, cost) "
                     "VALUES ('r', 'AAPL', 'b', 't', 'BUY', 50, 200.0, 3.0)")
    assert job.main(["--tickers", "AAPL,MSFT"]) == 0
    out = last_json(capsys)
    report = json.loads((pmx_home / "logs" / "automation" / "transaction_costs.json").read_text())
    assert out["output"].endswith("logs/automation/transaction_costs.json") and out["trades"] == 1
    assert report["realized"]["by_ticker"]["AAPL"]["cost_bps"] == pytest.approx(3.0 / 10_000 * 1e4)
    cfg = load_settings()
    notional = cfg.broker.max_position_fraction * cfg.broker.initial_cash  # 10_000 -> 50 shares at 200
    expected = CostModel.from_settings(cfg.costs).cost_bps(notional // 200.0, 200.0)
    assert report["modelled"]["AAPL"]["cost_bps"] == pytest.approx(expected, abs=1e-4)
    assert report["modelled"]["MSFT"]["cost_bps"] is None  # no bars: nothing to price
    assert entrypoint_events(NAME) == ["entrypoint_start", "entrypoint_finish"]
