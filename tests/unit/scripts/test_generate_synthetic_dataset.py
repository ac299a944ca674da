from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT
from foundation.pipeline_logger import read_events
from portfolio.run_inputs import resolve_run_inputs
from portfolio.synthetic import load_dataset_ticker, resolve_dataset_id
from scripts import generate_synthetic_dataset as gen
from scripts.entrypoint import cli_inputs

WINDOW = ["--start-date", "2023-01-03", "--end-date", "2023-12-29"]


def test_help_exits_zero_from_the_command_line() -> None:
    script = REPO_ROOT / "scripts" / "generate_synthetic_dataset.py"
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                          check=False, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "--seed" in proc.stdout and "SYNTHETIC_DATASET_ID" in proc.stdout


def test_generates_a_dataset_and_moves_latest(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--tickers", "AAPL,MSFT", *WINDOW, "--seed", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tickers"] == ["AAPL", "MSFT"] and summary["seed"] == 3 and summary["rows"] == 2 * 250
    assert resolve_dataset_id() == summary["dataset_id"]
    assert len(load_dataset_ticker(summary["dataset_id"], "MSFT")) == 250
    events = [e["event"] for e in read_events(pmx_home / "logs" / "pipeline", "pipeline")
              if e.get("entrypoint") == "generate_synthetic_dataset"]
    assert events == ["entrypoint_start", "entrypoint_finish"]


def test_cron_environment_and_no_latest(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRON_TICKERS", "NVDA")
    monkeypatch.setenv("CRON_START_DATE", "2024-01-02")
    monkeypatch.setenv("CRON_END_DATE", "2024-03-28")
    inputs = cli_inputs({})  # the command line's resolution: CRON_* environment, then config
    first = gen.run(inputs=inputs, dataset_id="weekly-1")
    assert first["tickers"] == ["NVDA"] and first["start"] == "2024-01-02" and first["latest"] is True
    second = gen.run(inputs=inputs, dataset_id="weekly-2", seed=9, set_latest=False)
    assert second["sha256"] != first["sha256"]
    assert resolve_dataset_id() == "weekly-1"


def test_same_arguments_give_the_same_bytes(pmx_home: Path) -> None:
    values = {"tickers": "AAPL", "start_date": "2023-01-03", "end_date": "2023-06-30"}
    first = gen.run(inputs=resolve_run_inputs(values, environ={}))
    again = gen.run(inputs=resolve_run_inputs(values, environ={}))
    assert (first["dataset_id"], first["sha256"]) == (again["dataset_id"], again["sha256"])


@pytest.mark.parametrize(("argv", "reason"), [
    pytest.param(["--tickers", "AAPL,$$$", *WINDOW], "invalid ticker '$$$'", id="bad-ticker-format"),
    pytest.param(["--tickers", "AAPL", "--start-date", "2024-05-01", "--end-date", "2024-01-01"],
                 "is after end_date", id="start-after-end"),
    pytest.param(["--tickers", "AAPL", "--start-date", "1995-01-03", "--end-date", "1995-12-29"],
                 "synthetic data starts at 2000-01-03", id="before-epoch"),
    pytest.param(["--tickers", "AAPL", *WINDOW, "--dataset-id", "../outside"], "invalid dataset id",
                 id="bad-dataset-id"),
    pytest.param(["--tickers", "AAPL", *WINDOW, "--dataset-id", "latest"], "invalid dataset id",
                 id="reserved-dataset-id"),
])
def test_bad_input_exits_2_with_one_line(pmx_home: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                         reason: str) -> None:
    assert gen.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and reason in err and err.startswith("generate_synthetic_dataset: error:")
    assert not (pmx_home / "data" / "synthetic").exists(), "nothing was written"


def test_seed_must_be_an_integer(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        gen.main(["--seed", "abc"])
    assert info.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_malformed_yaml_config_exits_2(pmx_home: Path, config_copy: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (config_copy / "pipeline.yml").write_text("synthetic: {seed: 42\n")
    assert gen.main(["--tickers", "AAPL", *WINDOW]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pipeline.yml" in err and "invalid YAML" in err
