from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT
from scripts import validate_environment as ve


def test_help_exits_zero_from_the_command_line() -> None:
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "validate_environment.py"), "--help"],
                          capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "--only" in proc.stdout


def test_a_healthy_environment_passes_every_check(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = ve.run()
    assert summary["ok"] is True and summary["failed"] == []
    assert set(summary["checks"]) == set(ve.CHECKS)
    assert summary["checks"]["python"]["reason"].startswith("python 3.11")
    assert "integrity" not in summary["checks"]["database"]["reason"]
    assert (pmx_home / "data" / "portfolio_maximizer.db").exists()
    assert ve.main([]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_secrets_are_reported_as_present_never_by_value(pmx_home: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (pmx_home / ".env").write_text("ALPHA_VANTAGE_API_KEY=value-never-shown-77\n")
    assert ve.main(["--only", "secrets"]) == 0
    out = capsys.readouterr().out
    reason = json.loads(out)["checks"]["secrets"]["reason"]
    assert "present: ALPHA_VANTAGE_API_KEY" in reason and "FINNHUB_API_KEY" in reason
    assert "value-never-shown-77" not in out
    logs = "".join(p.read_text() for p in (pmx_home / "logs").rglob("*.jsonl"))
    assert "value-never-shown-77" not in logs


def test_live_mode_without_any_live_source_fails_the_secrets_check(pmx_home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setenv("CRON_EXEC_MODE", "live")
    check = ve.run(only="secrets")["checks"]["secrets"]
    if importlib.util.find_spec("yfinance") is None:
        assert check["ok"] is False and "no live source is usable" in check["reason"]
    monkeypatch.setenv("FINNHUB_API_KEY", "fh-some-key-1")
    assert ve.run(only="secrets")["checks"]["secrets"]["ok"] is True


def test_invalid_overlay_fails_the_config_check_and_exits_1(pmx_home: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            config_copy: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    (config_copy / "environments" / "prod.yml").write_text("pipeline:\n  execution_mode: paper\n")
    summary = ve.run()
    assert summary["ok"] is False and summary["failed"] == ["config"]
    reason = summary["checks"]["config"]["reason"]
    assert "prod.yml" in reason and "execution_mode" in reason and "'paper'" in reason
    assert ve.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 check(s) failed: config:" in err


def test_bad_cron_environment_fails_the_run_params_check(pmx_home: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRON_START_DATE", "2024-05-01")
    monkeypatch.setenv("CRON_END_DATE", "2024-01-01")
    check = ve.run(only=["run_params"])["checks"]["run_params"]
    assert check == {"ok": False,
                     "reason": "ParameterError: start_date=2024-05-01 is after end_date=2024-01-01"}


def test_unwritable_log_dir_fails_its_check(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = pmx_home / "not-a-dir"
    blocker.write_text("a file where the log directory should be")
    monkeypatch.setenv("PMX_LOG_DIR", str(blocker))
    check = ve.run(only="log_dir")["checks"]["log_dir"]
    assert check["ok"] is False and "Error" in check["reason"]


def test_unknown_check_exits_2(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ve.main(["--only", "python,bogus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown check(s)" in err and "bogus" in err


def test_malformed_yaml_fails_the_config_check_and_run_reports_it(pmx_home: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   config_copy: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (config_copy / "pipeline.yml").write_text("tickers: [AAPL\n")
    # the event log no longer needs pipeline.yml, so the checks run and the config check fails (exit 1)
    assert ve.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pipeline.yml" in err
    summary = ve.run(only="config")
    assert summary["ok"] is False and "invalid YAML" in summary["checks"]["config"]["reason"]
