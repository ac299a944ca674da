"""A broken domain config fails the entrypoint loudly and is itself written as a ``config_invalid`` event."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.config_loader import ConfigError
from foundation.pipeline_logger import read_events
from scripts import run_auto_trader
from scripts.entrypoint import run_logged


def test_an_invalid_pipeline_yml_exits_2_and_is_an_event(config_copy: Path, pmx_home: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = config_copy / "pipeline.yml"
    path.write_text(path.read_text().replace("  max_position_fraction: 0.10\n", "  max_position_fraction: 1.5\n"))
    assert run_auto_trader.main(["--tickers", "AAPL", "--mode", "synthetic"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: broker.max_position_fraction = 1.5" in err
    (event,) = [e for e in read_events(pmx_home / "logs" / "pipeline", "errors") if e["event"] == "config_invalid"]
    assert event["file"] == str(path) and event["key"] == "broker.max_position_fraction"
    assert event["value"] == "1.5" and "less than or equal to 1" in event["problem"]
    assert event["entrypoint"] == "run_auto_trader" and event["component"] == "run_auto_trader"


def test_a_secret_looking_key_has_its_value_masked(pmx_home: Path) -> None:
    def job() -> dict[str, str]:
        raise ConfigError("config/x.yml", "sources.api_key", "sk-live-0123456789", "too short")

    with pytest.raises(ConfigError):
        run_logged("probe", job, {})
    (event,) = [e for e in read_events(pmx_home / "logs" / "pipeline") if e["event"] == "config_invalid"]
    assert event["value"] == "***"
