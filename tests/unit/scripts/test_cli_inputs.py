"""Bad inputs through the real command lines: an explicitly empty ticker list and non-UTF-8 config files.

Each case runs the entrypoint as a process (``python scripts/<name>.py`` / ``python -m ...``) and checks the exit
code, the one line on stderr (naming the file and key) and that nothing ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT

NOT_UTF8 = b"\xe9t\xe9"  # "été" in Latin-1


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run one command line from the checkout with the test's environment."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False, cwd=REPO_ROOT,
                          env=os.environ.copy(), timeout=300)


def break_encoding(path: Path, key_line: bytes, replacement: bytes) -> None:
    """Replace one line of a config file with a Latin-1 encoded one."""
    raw = path.read_bytes()
    assert key_line in raw, f"{key_line!r} not in {path}"
    path.write_bytes(raw.replace(key_line, replacement, 1))


@pytest.mark.parametrize("script", ["run_etl_pipeline.py", "run_auto_trader.py"])
@pytest.mark.parametrize("value", ["", " , "], ids=["empty", "only-separators"])
def test_an_explicitly_empty_ticker_list_exits_2(pmx_home: Path, script: str, value: str) -> None:
    proc = run_cli(str(REPO_ROOT / "scripts" / script), "--tickers", value)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and "tickers=" in proc.stderr and "no tickers given" in proc.stderr
    assert proc.stdout == ""
    assert not (pmx_home / "data" / "staging").exists() and not (pmx_home / "data" / "synthetic").exists()


def test_an_empty_cron_tickers_variable_still_means_the_default(pmx_home: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from portfolio.params import resolve

    monkeypatch.setenv("CRON_TICKERS", "")
    assert resolve().tickers == ["AAPL", "MSFT", "GOOGL"]


def test_a_non_utf8_pipeline_config_exits_2_naming_file_and_key(config_copy: Path) -> None:
    pipeline = config_copy / "pipeline.yml"
    raw = pipeline.read_bytes()
    pipeline.write_bytes(raw + b"\nnotes: " + NOT_UTF8 + b"\n")
    proc = run_cli(str(REPO_ROOT / "scripts" / "run_etl_pipeline.py"), "--tickers", "AAPL")
    assert proc.returncode == 2, proc.stderr[-2000:]
    err = proc.stderr
    assert err.count("\n") == 1 and "UnicodeDecodeError" not in err and "Traceback" not in err
    assert f"{pipeline}: notes = " in err and "not valid UTF-8 at line" in err and "byte 0xe9" in err


def test_a_non_utf8_environment_overlay_names_the_overlay(config_copy: Path) -> None:
    overlay = config_copy / "environments" / "dev.yml"
    overlay.write_bytes(overlay.read_bytes() + b"\n# r\xe9sum\xe9 of the overlay\n")
    proc = run_cli(str(REPO_ROOT / "scripts" / "run_etl_pipeline.py"), "--tickers", "AAPL")
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr and all(str(overlay) in line for line in lines), proc.stderr
    # the event log reads the same overlay (observability section), says once that it uses its defaults,
    # and the domain config then fails naming the overlay
    assert len(lines) == 2 and lines[0].startswith("portfolio event log: ")
    assert f"{overlay}: not valid UTF-8 at line" in lines[1]


@pytest.mark.parametrize("name", ["slas.yml", "alerting.yml", "orchestration.yml"])
def test_the_sla_rules_command_names_a_non_utf8_config(config_copy: Path, name: str) -> None:
    path = config_copy / name
    path.write_bytes(path.read_bytes() + b"\n# caf\xe9\n")
    proc = run_cli("-m", "alerts.sla_rules", "--check")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and f"{path}: not valid UTF-8 at line" in proc.stderr


@pytest.mark.parametrize(
    ("loader", "name"),
    [
        pytest.param("listeners.config:load_observability", "observability.yml", id="observability"),
        pytest.param("alerts.alerting_config:load_alerting", "alerting.yml", id="alerting"),
        pytest.param("orchestration.config:load_orchestration", "orchestration.yml", id="orchestration"),
        pytest.param("alerts.sla_config:load_sla_config", "slas.yml", id="slas"),
        pytest.param("portfolio.settings:load_settings", "pipeline.yml", id="pipeline"),
    ],
)
def test_every_config_loader_names_the_non_utf8_file(config_copy: Path, loader: str, name: str) -> None:
    import importlib

    from foundation.config_loader import ConfigError

    module, func = loader.split(":")
    load = getattr(importlib.import_module(module), func)
    path = config_copy / name
    path.write_bytes(path.read_bytes() + b"\n# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load()  # from PMX_CONFIG_DIR, a directory no earlier test loaded
    assert info.value.file == str(path) and "not valid UTF-8" in str(info.value)


def test_the_statsd_bridge_names_a_non_utf8_mapping_file(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yml"
    mapping.write_bytes(b"mappings:\n- match: a.b\n  name: caf" + NOT_UTF8 + b"\n")
    proc = run_cli("-m", "monitoring.statsd_bridge", "--statsd.mapping-config", str(mapping), "--check-config")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"{mapping}: not valid UTF-8 at line 3" in proc.stderr and "Traceback" not in proc.stderr
