"""The composition root builds only the enabled parts: listener, SLA view and deadline reference."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from alerts import alerting_config
from listeners import config as listener_config


@pytest.fixture
def reload_plugin(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Any]]:
    """A function that re-imports addon.plugin under the current switches; restores it afterwards."""
    import addon.plugin as plugin_module

    def reload() -> Any:
        listener_config._cache.clear()
        alerting_config.clear_cache()
        return importlib.reload(plugin_module).PortfolioObservabilityPlugin

    yield reload
    monkeypatch.delenv("PMX_LISTENER_ENABLED", raising=False)
    monkeypatch.delenv("PMX_ALERTS_ENABLED", raising=False)
    reload()


@pytest.mark.parametrize(("listener", "alerts", "expected"), [
    ("true", "true", (1, 1, 1, 1)), ("false", "true", (0, 1, 1, 1)), ("true", "false", (1, 0, 0, 0)),
    ("false", "false", (0, 0, 0, 0)),
], ids=["both", "alerts-only", "listener-only", "none"])
def test_only_enabled_parts_are_built(reload_plugin: Callable[[], Any], monkeypatch: pytest.MonkeyPatch,
                                      listener: str, alerts: str, expected: tuple[int, int, int, int]) -> None:
    monkeypatch.setenv("PMX_LISTENER_ENABLED", listener)
    monkeypatch.setenv("PMX_ALERTS_ENABLED", alerts)
    plugin = reload_plugin()
    got = (len(plugin.listeners), len(plugin.fastapi_apps), len(plugin.external_views),
           len(plugin.deadline_references))
    assert got == expected


def test_alerting_off_in_the_file_attaches_no_deadlines(pmx_home: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import yaml

    from alerts.deadlines import deadlines_for_dag
    from alerts.switch import alerts_enabled
    from foundation.paths import REPO_ROOT

    target = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", target)
    data = yaml.safe_load((target / "alerting.yml").read_text())
    (target / "alerting.yml").write_text(yaml.safe_dump({**data, "enabled": False}))
    monkeypatch.setenv("PMX_CONFIG_DIR", str(target))
    alerting_config.clear_cache()
    try:
        assert alerts_enabled() is False and deadlines_for_dag("daily_etl") is None
        monkeypatch.setenv("PMX_ALERTS_ENABLED", "true")  # the environment wins
        assert alerts_enabled() is True and deadlines_for_dag("daily_etl")
        monkeypatch.setenv("PMX_ALERTS_ENABLED", "sometimes")  # a bad switch keeps alerting on
        assert alerts_enabled() is True
    finally:
        alerting_config.clear_cache()
