"""monitor_llm_system entrypoint: model latency, recent forecast quality, signal summary, JSON reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portfolio.database_manager import DatabaseManager
from portfolio.forecasting import forecast_ticker
from scripts import monitor_llm_system as job
from tests.trading_support import (
    assert_help,
    assert_one_line_error,
    entrypoint_events,
    last_json,
    override_config,
    random_walk,
    seed_ohlcv,
)

NAME = "monitor_llm_system"


def test_help(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_help(job.main, capsys, NAME, "--points", "--runs")


@pytest.mark.parametrize(("argv", "text"), [
    (["--points", "10"], "points=10"), (["--runs", "0"], "runs=0"), (["--points", "many"], "invalid int"),
], ids=["too-few-points", "no-runs", "not-a-number"])
def test_bad_arguments_exit_2(pmx_home: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                              text: str) -> None:
    assert text in assert_one_line_error(job.main, argv, capsys, NAME)


def test_reports_latency_quality_signals_and_health(pmx_home: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    override_config(pmx_home, monkeypatch, {"forecasting": {"models": ["garch", "ssa"]}})
    db = DatabaseManager()
    seed_ohlcv(db, "AAPL", random_walk(160, seed=4))
    for run_id in ("etl-1", "etl-2"):
        forecast_ticker(db, "AAPL", run_id)
    with db.transaction() as conn:
        conn.execute("INSERT INTO signals (run_id, ticker, bar, created_at, action, confidence, "
                     "expected_return, source, realized_return, validated_at) "
                     "VALUES ('r', 'AAPL', 'b', 't', 'BUY', 0.7, 0.01, 'time_series', 0.02, 't')")
    assert job.main(["--tickers", "AAPL", "--points", "120"]) == 0
    out = last_json(capsys)
    latency = json.loads((pmx_home / "logs" / "latency_benchmark.json").read_text())
    report = json.loads((pmx_home / "logs" / "forecaster_monitoring.json").read_text())
    assert latency["series"] == "AAPL" and latency["points"] == 120
    for model in ("garch", "ssa"):
        assert latency["models"][model]["fit_ms"] > 0 and latency["models"][model]["finite"] is True
    assert set(report["models"]) == {"garch", "ssa", "ensemble"}
    assert report["models"]["ssa"]["rows"] == 2 and report["models"]["ssa"]["mape"] > 0
    assert report["signals"]["hit_rate"] == 1.0 and report["signals"]["counts"] == {"time_series": {"BUY": 1}}
    assert report["quant_health"]["colour"] == "YELLOW" and out["quant_health"] == "YELLOW"
    assert entrypoint_events(NAME) == ["entrypoint_start", "entrypoint_finish"]


def test_empty_database_times_a_synthetic_series(pmx_home: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    override_config(pmx_home, monkeypatch, {"forecasting": {"models": ["ssa"]}})
    assert job.main(["--points", "80"]) == 0
    assert last_json(capsys)["mape"] == {}
    latency = json.loads((pmx_home / "logs" / "latency_benchmark.json").read_text())
    assert latency["series"] == "synthetic" and set(latency["models"]) == {"ssa"}
