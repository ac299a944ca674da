"""The plugin reaches Airflow through the package's entry point and registers with both listener managers."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from listeners import config as listener_config
from listeners.hooks import PortfolioListener

CORE_HOOKS = ("on_task_instance_running", "on_task_instance_success", "on_task_instance_failed",
              "on_task_instance_skipped", "on_dag_run_running", "on_dag_run_success", "on_dag_run_failed",
              "on_new_dag_import_error", "on_existing_dag_import_error", "on_starting", "before_stopping")
SDK_HOOKS = ("on_task_instance_running", "on_task_instance_success", "on_task_instance_failed",
             "on_task_instance_skipped", "on_starting", "before_stopping")


def test_the_entry_point_names_the_plugin_class() -> None:
    ours = {ep.value for ep in entry_points(group="airflow.plugins") if ep.name == "portfolio_observability"}
    (point,) = ours
    assert point == "listeners.plugin:PortfolioObservabilityPlugin"
    plugin = importlib.import_module("listeners.plugin").PortfolioObservabilityPlugin
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
    import listeners.plugin as plugin_module

    monkeypatch.setenv("PMX_LISTENER_ENABLED", switch)
    listener_config._cache.clear()
    try:
        reloaded = importlib.reload(plugin_module)
        assert len(reloaded.PortfolioObservabilityPlugin.listeners) == registered
    finally:
        monkeypatch.delenv("PMX_LISTENER_ENABLED")
        importlib.reload(plugin_module)
        listener_config._cache.clear()
