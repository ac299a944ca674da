"""The plugin (addon.plugin) reaches Airflow through the entry point and registers with both listener managers."""

from __future__ import annotations

import importlib
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT
from listeners import config as listener_config
from listeners.hooks import PortfolioListener

CORE_HOOKS = ("on_task_instance_running", "on_task_instance_success", "on_task_instance_failed",
              "on_task_instance_skipped", "on_dag_run_running", "on_dag_run_success", "on_dag_run_failed",
              "on_new_dag_import_error", "on_existing_dag_import_error", "on_starting", "before_stopping")
SDK_HOOKS = ("on_task_instance_running", "on_task_instance_success", "on_task_instance_failed",
             "on_task_instance_skipped", "on_starting", "before_stopping")


def test_the_entry_point_names_the_plugin_class() -> None:
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared["airflow.plugins"] == {"portfolio_observability": "addon.plugin:PortfolioObservabilityPlugin"}
    ours = [ep for ep in entry_points(group="airflow.plugins") if ep.name == "portfolio_observability"]
    (point,) = ours
    assert point.value == "addon.plugin:PortfolioObservabilityPlugin"
    plugin = importlib.import_module("addon.plugin").PortfolioObservabilityPlugin
    loaded = point.load()  # the same class (another test may have reloaded addon.plugin: compare by name)
    assert (loaded.__module__, loaded.__qualname__) == (plugin.__module__, plugin.__qualname__) == (
        "addon.plugin", "PortfolioObservabilityPlugin")
    assert plugin.name == "portfolio_observability"
    assert any(base.__name__ == "AirflowPlugin" for base in plugin.__mro__)


@pytest.mark.parametrize(("module", "hooks"), [("airflow.listeners.listener", CORE_HOOKS),
                                               ("airflow.sdk.listener", SDK_HOOKS)],
                         ids=["core-manager", "task-sdk-manager"])
def test_both_listener_managers_call_our_hooks(airflow_metadata: Path, module: str,
                                               hooks: tuple[str, ...]) -> None:
    manager = importlib.import_module(module).get_listener_manager()
    ours = [p for p in manager.pm.get_plugins() if isinstance(p, PortfolioListener)]
    assert len(ours) == 1
    for name in hooks:
        caller = getattr(manager.hook, name)
        assert caller.spec is not None, name  # a hook Airflow 3.3.2 really defines
        assert any(impl.plugin is ours[0] for impl in caller.get_hookimpls()), name


@pytest.mark.parametrize(("switch", "registered"), [("false", 0), ("true", 1)], ids=["disabled", "enabled"])
def test_the_env_switch_decides_at_import(monkeypatch: pytest.MonkeyPatch, switch: str,
                                          registered: int) -> None:
    import addon.plugin as plugin_module

    monkeypatch.setenv("PMX_LISTENER_ENABLED", switch)
    listener_config._cache.clear()
    try:
        reloaded = importlib.reload(plugin_module)
        assert len(reloaded.PortfolioObservabilityPlugin.listeners) == registered
    finally:
        monkeypatch.delenv("PMX_LISTENER_ENABLED")
        importlib.reload(plugin_module)
        listener_config._cache.clear()
