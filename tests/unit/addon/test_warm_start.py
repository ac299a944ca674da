"""addon.warm_start: the fork server builds the task-SDK listener manager once; a failure never escapes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from foundation.paths import REPO_ROOT

PROBE = """
import addon.warm_start
from airflow.sdk.listener import get_listener_manager
built = get_listener_manager.cache_info().currsize
names = sorted(type(p).__name__ for p in get_listener_manager().pm.get_plugins())
print(built, ",".join(names))
"""


def test_the_fork_server_preloads_it() -> None:
    preload = yaml.safe_load((REPO_ROOT / "config" / "airflow.yml").read_text())["core"]["mp_forkserver_preload"]
    assert "addon.warm_start" in [m.strip() for m in preload.split(",")]


def test_importing_it_builds_the_listener_manager_with_our_listener(airflow_metadata: Path) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=REPO_ROOT,
                         env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=120, check=True)
    built, names = out.stdout.split()[-2:]
    assert built == "1"  # already built by the import: a forked task process finds it cached
    assert "PortfolioListener" in names.split(",")


def test_it_loads_the_task_runtime_with_lineage_off(airflow_metadata: Path) -> None:
    """The modules every worker and task imports are in the fork server whatever the lineage setting (the
    OpenLineage listener used to be what imported them)."""
    probe = "import sys, addon.warm_start as w; print(sorted(set(w.TASK_RUNTIME) - set(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "AIRFLOW__OPENLINEAGE__DISABLED": "true"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, env=env,
                         timeout=120, check=True)
    assert out.stdout.split("\n")[-2] == "[]", out.stdout + out.stderr


def test_a_failure_is_counted_and_never_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import airflow.sdk.listener as sdk_listener

    import foundation.failures

    reported: list[tuple[str, str]] = []

    def broken() -> None:
        raise RuntimeError("plugin import failed")

    monkeypatch.setattr(sdk_listener, "get_listener_manager", broken)
    monkeypatch.setattr(foundation.failures, "report_failure",
                        lambda component, reason, exc=None, **_: reported.append((component, reason)))
    sys.modules.pop("addon.warm_start", None)
    importlib.import_module("addon.warm_start")  # does not raise
    assert reported == [("addon", "warm_start")]


def test_celery_workers_import_it_before_forking_their_pool() -> None:
    """The shipped ``[celery] celery_config_options`` is Airflow's Celery configuration plus ``imports`` of this
    module (Celery imports those in the worker's main process, before the pool forks)."""
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    from addon.celery_config import CELERY_CONFIG

    shipped = yaml.safe_load((REPO_ROOT / "config" / "airflow.yml").read_text())["celery"]["celery_config_options"]
    assert shipped == "addon.celery_config.CELERY_CONFIG"
    assert "addon.warm_start" in CELERY_CONFIG["imports"]
    assert {k: v for k, v in CELERY_CONFIG.items() if k != "imports"} == {
        k: v for k, v in DEFAULT_CELERY_CONFIG.items() if k != "imports"}
