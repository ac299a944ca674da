"""config/observability.yml: defaults, validation errors naming file/key/value, the env switch."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from foundation.config_loader import ConfigError
from foundation.paths import REPO_ROOT
from listeners import config as listener_config
from listeners.config import ObservabilityConfig, env_switch, listener_enabled, load_observability


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's observability.yml in a private config dir."""
    target = tmp_path / "config"
    target.mkdir()
    (target / "observability.yml").write_text((REPO_ROOT / "config" / "observability.yml").read_text())
    monkeypatch.setenv("PMX_CONFIG_DIR", str(target))
    monkeypatch.delenv("PMX_ENV", raising=False)
    monkeypatch.delenv("PMX_LISTENER_ENABLED", raising=False)
    listener_config._cache.clear()
    yield target
    listener_config._cache.clear()


def _edit(config_dir: Path, section: str, key: str, value: object) -> None:
    path = config_dir / "observability.yml"
    data = yaml.safe_load(path.read_text())
    node = data
    for part in section.split("."):
        node = node[part]
    node[key] = value
    path.write_text(yaml.safe_dump(data))


def test_the_repository_file_matches_the_documented_defaults(config_dir: Path) -> None:
    cfg = load_observability()
    assert cfg == ObservabilityConfig()  # the file spells out the model's defaults
    rules = cfg.error_monitor.rules
    assert (rules.dag_failures.threshold, rules.dag_failures.window_minutes) == (3, 60)
    assert (rules.retry_storm.threshold, rules.retry_storm.window_minutes) == (10, 15)
    assert rules.import_errors.threshold == 1 and rules.consecutive_failed_runs.threshold == 3
    assert rules.dag_failures.rearm_below == 1


@pytest.mark.parametrize(("section", "key", "value", "where", "problem"), [
    ("error_monitor.rules.dag_failures", "threshold", 0, "error_monitor.rules.dag_failures.threshold = 0",
     "greater than or equal to 1"),
    ("error_monitor.rules.retry_storm", "reset_below", 50, "error_monitor.rules.retry_storm = {",
     "reset_below 50 must be <= threshold 10"),
    ("error_monitor.rules.import_errors", "severity", "loud",
     "error_monitor.rules.import_errors.severity = 'loud'", "'critical', 'error', 'warning' or 'info'"),
    ("listener", "queue_size", -1, "listener.queue_size = -1", "greater than or equal to 1"),
    ("listener", "colour", "blue", "listener.colour = 'blue'", "Extra inputs are not permitted"),
    ("error_monitor", "backend", "postgresql", "error_monitor.dsn = '<missing>'",
     "backend postgresql needs `dsn`"),
    ("error_monitor", "backend", "mysql", "error_monitor.backend = 'mysql'", "'sqlite' or 'postgresql'"),
    ("error_monitor", "dsn", "mysql://pmx:s3cret-pw@db/pmx", "error_monitor.dsn = 'mysql://pmx:***@db/pmx'",
     "a PostgreSQL DSN starts with postgresql://"),
], ids=["zero-threshold", "reset-above-threshold", "bad-severity", "negative-queue", "unknown-key",
        "postgresql-without-dsn", "unknown-backend", "not-a-postgresql-dsn"])
def test_bad_values_name_file_key_and_value(config_dir: Path, section: str, key: str, value: object,
                                            where: str, problem: str) -> None:
    _edit(config_dir, section, key, value)
    with pytest.raises(ConfigError) as err:
        load_observability()
    message = str(err.value)
    assert message.startswith(f"{config_dir / 'observability.yml'}: {where}")
    assert problem in message


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("FALSE", False), ("0", False), ("on", True),
                                                ("", None)], ids=["true", "FALSE", "0", "on", "empty"])
def test_env_switch(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool | None) -> None:
    monkeypatch.setenv("PMX_LISTENER_ENABLED", raw)
    assert env_switch() is expected


def test_env_switch_rejects_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMX_LISTENER_ENABLED", "maybe")
    with pytest.raises(ConfigError, match="PMX_LISTENER_ENABLED = 'maybe'"):
        env_switch()


def test_env_switch_wins_over_the_file(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert listener_enabled() is True
    monkeypatch.setenv("PMX_LISTENER_ENABLED", "false")
    assert listener_enabled() is False
    _edit(config_dir, "listener", "enabled", False)
    listener_config._cache.clear()
    monkeypatch.delenv("PMX_LISTENER_ENABLED")
    assert listener_enabled() is False


def test_a_broken_file_keeps_the_listener_registered(config_dir: Path) -> None:
    (config_dir / "observability.yml").write_text("listener: [unclosed\n")
    assert listener_enabled() is True  # the listener reports the error itself instead of going silent


def test_the_state_store_follows_backend_and_the_dsn_variable(config_dir: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PMX_ERROR_MONITOR_DSN", raising=False)
    assert load_observability().error_monitor.location().backend == "sqlite"
    _edit(config_dir, "error_monitor", "backend", "postgresql")
    _edit(config_dir, "error_monitor", "dsn", "postgresql://pmx:s3cret-pw@db.example/pmx_state")
    located = load_observability(fresh=True).error_monitor.location()
    assert (located.backend, located.describe()) == ("postgresql", "postgresql://pmx:***@db.example/pmx_state")
    monkeypatch.setenv("PMX_ERROR_MONITOR_DSN", "host=other.example dbname=pmx password=s3cret-pw")
    assert load_observability().error_monitor.location().describe() == "host=other.example dbname=pmx password=***"
