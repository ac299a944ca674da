from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT
from foundation.pipeline_logger import read_events
from portfolio.calendar import sessions_between
from portfolio.run_inputs import RunInputs
from scripts import run_etl_pipeline
from tests.support import free_port

WINDOW = ["--start-date", "2024-01-02", "--end-date", "2024-02-29"]


def test_help_exits_zero_from_the_command_line() -> None:
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "run_etl_pipeline.py"), "--help"],
                          capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "CRON_TICKERS" in proc.stdout and "--run-id" in proc.stdout


@pytest.mark.parametrize(("argv", "env", "reason"), [
    pytest.param(["--tickers", "AAPL,$$$"], {}, "invalid ticker '$$$'", id="bad-ticker-format"),
    pytest.param([], {"CRON_TICKERS": "aapl, not a ticker"}, "invalid ticker 'NOT A TICKER'",
                 id="bad-cron-ticker"),
    pytest.param(["--start-date", "2024-05-01", "--end-date", "2024-01-01"], {},
                 "start_date=2024-05-01 is after end_date=2024-01-01", id="start-after-end"),
    pytest.param(["--start-date", "01/02/2024"], {}, "expected a date as YYYY-MM-DD", id="bad-date"),
    pytest.param([], {"CRON_EXEC_MODE": "paper"}, "execution_mode='paper'", id="bad-cron-mode"),
    pytest.param([], {"ENABLE_PARALLEL_TICKER_PROCESSING": "maybe"}, "expected 0/1/true/false",
                 id="bad-flag"),
])
def test_bad_input_exits_2_with_one_line(pmx_home: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str], argv: list[str],
                                         env: dict[str, str], reason: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert run_etl_pipeline.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and reason in err and err.startswith("run_etl_pipeline")
    assert not (pmx_home / "data" / "staging").exists(), "nothing was extracted"


@pytest.mark.parametrize("argv", [["--bogus"], ["--mode", "paper"], ["--parallel-tickers", "2"]],
                         ids=["unknown-option", "bad-mode", "bad-choice"])
def test_argparse_usage_errors_exit_2(pmx_home: Path, capsys: pytest.CaptureFixture[str],
                                      argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_etl_pipeline.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run_etl_pipeline: error:" in err


def test_malformed_yaml_config_exits_2_naming_the_file(pmx_home: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      config_copy: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (config_copy / "pipeline.yml").write_text("tickers:\n  default: [AAPL\n  core: [MSFT]\n")
    assert run_etl_pipeline.main(WINDOW) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pipeline.yml" in err and "invalid YAML at line" in err
    assert not (pmx_home / "data").exists(), "nothing was written"


def test_cron_environment_drives_a_run(pmx_home: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CRON_TICKERS", "MSFT,JPM")
    monkeypatch.setenv("CRON_START_DATE", "2024-01-02")
    monkeypatch.setenv("CRON_END_DATE", "2024-02-29")
    monkeypatch.setenv("CRON_EXEC_MODE", "synthetic")
    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    monkeypatch.setenv("ENABLE_GPU_PARALLEL", "0")
    assert run_etl_pipeline.main(["--no-forecast", "--run-id", "cron-1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["params"]["tickers"] == ["MSFT", "JPM"] and summary["params"]["mode"] == "synthetic"
    sessions = len(sessions_between(date(2024, 1, 2), date(2024, 2, 29)))
    assert summary["succeeded"] == 2 and summary["rows_loaded"] == 2 * sessions
    events = [e for e in read_events(pmx_home / "logs" / "pipeline", "pipeline")
              if e.get("entrypoint") == "run_etl_pipeline"]
    assert [e["event"] for e in events] == ["entrypoint_start", "entrypoint_finish"]


def test_same_run_id_resumes(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--tickers", "AAPL", *WINDOW, "--mode", "synthetic", "--no-forecast", "--run-id", "r-9"]
    assert run_etl_pipeline.main(argv) == 0
    capsys.readouterr()
    assert run_etl_pipeline.main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["results"]["AAPL"]["stages_resumed"] == ["extract", "validate", "load", "forecast"]
    assert run_etl_pipeline.main([*argv, "--fresh"]) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert fresh["results"]["AAPL"]["stages_resumed"] == []


def test_failed_run_exits_1_with_one_line_and_a_failure_event(pmx_home: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = run_etl_pipeline.main(["--tickers", "AAPL", *WINDOW, "--mode", "live", "--no-forecast"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "EtlError: ETL failed for 1 of 1 ticker(s); first: AAPL" in err
    failed = [e for e in read_events(pmx_home / "logs" / "pipeline", "errors")
              if e["event"] == "entrypoint_failed"]
    assert failed and failed[-1]["entrypoint"] == "run_etl_pipeline"


def test_secret_from_env_file_never_appears_in_logs(pmx_home: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    config_copy: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    secret = "AVKEY-do-not-leak-4242"
    (pmx_home / ".env").write_text(f"ALPHA_VANTAGE_API_KEY={secret}\n")
    text = (config_copy / "pipeline.yml").read_text()
    text = text.replace("https://www.alphavantage.co/query", f"http://127.0.0.1:{free_port()}/query")
    text = text.replace("order: [yfinance, alpha_vantage, finnhub, synthetic]",
                        "order: [alpha_vantage, synthetic]")
    (config_copy / "pipeline.yml").write_text(text)
    assert run_etl_pipeline.main(["--tickers", "AAPL", *WINDOW, "--mode", "auto", "--no-forecast"]) == 0
    out, err = capsys.readouterr()
    assert secret not in out + err
    events = list(read_events(pmx_home / "logs" / "pipeline"))
    failover = [e for e in events if e["event"] == "data_source_failover"]
    assert failover and "ConnectionError" in failover[0]["reason"], "the key was used against the closed port"
    assert any(e["event"] == "data_source_fallback" for e in events)
    for path in [*(pmx_home / "logs").rglob("*"), *(pmx_home / "data").rglob("*.json")]:
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def _inputs(**values: str) -> RunInputs:
    """Run inputs given explicitly (no environment fallback), as the operators pass them."""
    from portfolio.run_inputs import resolve_run_inputs

    return resolve_run_inputs(values, environ={})


def test_run_is_importable_as_a_function(pmx_home: Path) -> None:
    inputs = _inputs(tickers="AAPL", start_date="2024-01-02", end_date="2024-01-31", execution_mode="synthetic")
    summary = run_etl_pipeline.run(inputs=inputs, forecast=False, run_id="fn-1")
    assert summary["run_id"] == "fn-1" and summary["sources"] == {"AAPL": "synthetic"}


def test_run_stage_drives_the_dag_tasks_one_by_one(pmx_home: Path) -> None:
    common = {"ticker": "AAPL", "run_id": "scheduled__2024-03-01",
              "pipeline_id": "daily_etl__scheduled__2024-03-01__AAPL",
              "inputs": _inputs(start_date="2024-01-02", end_date="2024-02-29", execution_mode="synthetic")}
    extract = run_etl_pipeline.run_stage(stage="extract", **common)
    quality = run_etl_pipeline.run_stage(stage="quality", **common)
    load = run_etl_pipeline.run_stage(stage="load", **common)
    forecast = run_etl_pipeline.run_stage(stage="forecast", **common)
    assert Path(extract["path"]).exists() and extract["source"] == "synthetic"
    assert quality["rows"] == extract["rows"] == load["rows_loaded"]
    assert "min_history" in forecast["skipped"]
    for result in (extract, quality, load, forecast):
        assert len(json.dumps(result)) < 1000
    resumed = run_etl_pipeline.run_stage(stage="all", **common)
    assert resumed["stages_resumed"] == ["extract", "validate", "load", "forecast"]


@pytest.mark.parametrize(("kwargs", "message"), [
    pytest.param({"stage": "transform", "ticker": "AAPL"}, "stage='transform'", id="unknown-stage"),
    pytest.param({"stage": "extract", "ticker": None}, "needs a ticker", id="no-ticker"),
    pytest.param({"stage": "extract", "ticker": "AAPL!"}, "invalid ticker", id="bad-ticker"),
])
def test_run_stage_rejects_bad_input(pmx_home: Path, kwargs: dict[str, str], message: str) -> None:
    from portfolio.params import ParameterError

    with pytest.raises(ParameterError, match=message):
        run_etl_pipeline.run_stage(run_id="r", **kwargs)  # type: ignore[arg-type]


def test_quality_stage_failure_propagates(pmx_home: Path) -> None:
    from portfolio.quality import DataQualityError

    common = {"ticker": "MSFT", "run_id": "r",
              "inputs": _inputs(start_date="2024-01-02", end_date="2024-02-29", execution_mode="synthetic")}
    extract = run_etl_pipeline.run_stage(stage="extract", **common)
    staged = Path(extract["path"])
    lines = staged.read_text().splitlines()
    lines[5] = lines[4]  # a duplicated bar
    data = ("\n".join(lines) + "\n").encode()
    staged.write_bytes(data)
    meta = json.loads(staged.with_suffix(".json").read_text())
    meta["sha256"] = hashlib.sha256(data).hexdigest()
    staged.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(DataQualityError, match="dates_monotonic_unique"):
        run_etl_pipeline.run_stage(stage="quality", **common)


def test_a_stage_that_already_completed_resumes_from_its_checkpoint(pmx_home: Path) -> None:
    from foundation.pipeline_logger import read_events

    common = {"ticker": "AAPL", "run_id": "r2", "pipeline_id": "daily_etl__r2__AAPL",
              "inputs": _inputs(start_date="2024-01-02", end_date="2024-02-29", execution_mode="synthetic")}
    first = run_etl_pipeline.run_stage(stage="extract", **common)
    Path(first["path"]).with_suffix(".json").unlink()  # redoing the extract would recreate this sidecar
    again = run_etl_pipeline.run_stage(stage="extract", **common)
    assert again["resumed"] is True and again["path"] == first["path"]
    assert not Path(first["path"]).with_suffix(".json").exists()
    events = [e for e in read_events(pmx_home / "logs" / "pipeline") if e["event"] == "stage_resumed"]
    assert [(e["ticker"], e["stage"]) for e in events] == [("AAPL", "extract")]


@pytest.mark.parametrize("threads", [pytest.param(1, id="sequential"), pytest.param(2, id="threads")])
def test_run_batch_reports_a_failing_ticker_and_loads_the_others(pmx_home: Path, threads: int) -> None:
    from portfolio.database_manager import DatabaseManager

    with DatabaseManager().connect() as conn:
        conn.execute("CREATE TRIGGER reject_msft BEFORE INSERT ON ohlcv WHEN NEW.ticker = 'MSFT' "
                     "BEGIN SELECT RAISE(ABORT, 'ohlcv refuses MSFT rows'); END")
    inputs = _inputs(start_date="2024-01-02", end_date="2024-02-29", execution_mode="synthetic")
    result = run_etl_pipeline.run_batch(tickers=["AAPL", "MSFT", "NVDA"], run_id="b1", inputs=inputs,
                                        pipeline_prefix="daily_etl__b1", threads=threads)
    assert (result["tickers"], result["succeeded"]) == (["AAPL", "MSFT", "NVDA"], ["AAPL", "NVDA"])
    assert set(result["failed"]) == {"MSFT"} and result["failed"]["MSFT"]["rejected"] is False
    assert "refuses MSFT" in result["failed"]["MSFT"]["error"]
    assert result["sources"] == {"AAPL": "synthetic", "NVDA": "synthetic"}
    assert len(json.dumps(result)) < 2000, "a small XCom"
    with DatabaseManager().connect() as conn:
        loaded = {r[0] for r in conn.execute("SELECT DISTINCT ticker FROM ohlcv")}
    assert loaded == {"AAPL", "NVDA"}
    # the retry of the failed ticker resumes from the checkpoint the batch left (same pipeline id)
    with DatabaseManager().connect() as conn:
        conn.execute("DROP TRIGGER reject_msft")
    again = run_etl_pipeline.run_stage(stage="all", ticker="MSFT", run_id="b1", inputs=inputs,
                                       pipeline_id="daily_etl__b1__MSFT")
    assert again["stages_resumed"] == ["extract", "validate"] and again["stages_run"] == ["load", "forecast"]
