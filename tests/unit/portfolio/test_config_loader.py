from __future__ import annotations

from pathlib import Path

import pytest

from foundation.config_loader import ConfigError, deep_merge, load_config
from portfolio.settings import PipelineSettings, load_settings


def test_shipped_config_loads_in_every_environment(pmx_home: Path) -> None:
    for env in ("dev", "staging", "prod"):
        settings = load_config(PipelineSettings, "pipeline", env=env)
        assert settings.tickers.default
    assert load_config(PipelineSettings, "pipeline", env="prod").execution_mode == "live"
    assert load_config(PipelineSettings, "pipeline", env="dev").execution_mode == "synthetic"


def test_malformed_yaml_names_file_and_line(config_copy: Path) -> None:
    (config_copy / "pipeline.yml").write_text("tickers:\n  default: [AAPL\n  core: x\n")
    with pytest.raises(ConfigError) as info:
        load_settings(fresh=True)
    message = str(info.value)
    assert "pipeline.yml" in message and "invalid YAML at line" in message


@pytest.mark.parametrize(
    ("yaml_path", "bad_value", "expected_key", "shown"),
    [
        pytest.param(("tickers", "default"), ["AAPL", "bad ticker"], "tickers.default", "'bad ticker'",
                     id="bad-ticker"),
        pytest.param(("broker", "max_position_fraction"), 1.5, "broker.max_position_fraction", "= 1.5", id="range"),
        pytest.param(("data_sources", "order"), ["yfinance", "bloomberg"], "data_sources.order[1]", "'bloomberg'",
                     id="unknown-source"),
        pytest.param(("broker", "leverage"), 3, "broker.leverage", "= 3", id="unknown-key"),
    ],
)
def test_invalid_values_name_file_key_and_value(config_copy: Path, yaml_path: tuple[str, ...], bad_value: object,
                                                expected_key: str, shown: str) -> None:
    import yaml

    data = yaml.safe_load((config_copy / "pipeline.yml").read_text())
    node = data
    for part in yaml_path[:-1]:
        node = node[part]
    node[yaml_path[-1]] = bad_value
    (config_copy / "pipeline.yml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_settings(fresh=True)
    err = info.value
    assert err.file.endswith("pipeline.yml")
    assert err.key == expected_key
    assert shown in str(err)


def test_start_after_end_in_config_is_rejected(config_copy: Path) -> None:
    text = (config_copy / "pipeline.yml").read_text().replace("default_end: null", "default_end: 2019-01-01")
    (config_copy / "pipeline.yml").write_text(text)
    with pytest.raises(ConfigError, match="after default_end"):
        load_settings(fresh=True)


def test_overlay_error_names_the_overlay_file(config_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (config_copy / "environments" / "staging.yml").write_text("pipeline:\n  broker:\n    initial_cash: -5\n")
    monkeypatch.setenv("PMX_ENV", "staging")
    with pytest.raises(ConfigError) as info:
        load_settings(fresh=True)
    assert info.value.file.endswith("staging.yml")
    assert info.value.key == "broker.initial_cash"
    assert info.value.value == -5


def test_unknown_environment_is_rejected(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMX_ENV", "qa")
    with pytest.raises(ConfigError, match="PMX_ENV"):
        load_settings(fresh=True)


def test_deep_merge_replaces_lists_and_merges_maps() -> None:
    merged = deep_merge({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}, "e": 2})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
