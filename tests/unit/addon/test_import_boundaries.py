"""The add-on imports and reads its config with the trading pipeline impossible to import.

A child Python starts with tests/harness/block_trading first on PYTHONPATH: ``portfolio``, ``scripts``,
``orchestration`` and ``local_stack`` raise ImportError there. Every module of the add-on packages must still
import, the plugin must build, and the shipped ``slas.yml`` must load (it reads the schedules from
``orchestration.yml`` as plain YAML, never through the orchestration package).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from foundation.paths import REPO_ROOT

BLOCKER = REPO_ROOT / "tests" / "harness" / "block_trading"
ADDON_PACKAGES = ("addon", "listeners", "alerts", "lineage", "dashboards", "monitoring.statsd_bridge", "foundation")
TRADING = ("portfolio", "scripts", "orchestration", "local_stack")

CHILD = r"""
import importlib, json, pkgutil, sys
packages = sys.argv[1].split(",")
imported, failed = [], {}
for package in packages:
    root = importlib.import_module(package)
    names = [package] + [m.name for m in pkgutil.walk_packages(root.__path__, package + ".")
                         if not m.name.endswith("__main__")]
    for name in names:
        try:
            importlib.import_module(name)
            imported.append(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
blocked = {}
for name in sys.argv[2].split(","):
    try:
        importlib.import_module(name)
        blocked[name] = False
    except ImportError:
        blocked[name] = True
from addon.plugin import PortfolioObservabilityPlugin as P
from alerts.deadlines import deadlines_for_dag
from alerts.sla_config import load_sla_config
cfg = load_sla_config()
trading = sorted(m for m in sys.modules if m.partition(".")[0] in sys.argv[2].split(","))
print(json.dumps({"imported": imported, "failed": failed, "blocked": blocked, "trading_loaded": trading,
                  "listeners": len(P.listeners), "apps": len(P.fastapi_apps), "refs": len(P.deadline_references),
                  "timezone": cfg.timezone, "slas": len(cfg.slas),
                  "etl_deadlines": len(deadlines_for_dag("daily_etl") or [])}))
"""


def _run_blocked(pmx_home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMX_", "AIRFLOW__"))}
    env.update(PYTHONPATH=f"{BLOCKER}{os.pathsep}{REPO_ROOT}", PMX_HOME=str(pmx_home),
               PMX_LOG_DIR=str(pmx_home / "logs"), PMX_STATSD_ENABLED="false",
               AIRFLOW_HOME=str(pmx_home / "airflow"))
    proc = subprocess.run([sys.executable, "-c", CHILD, ",".join(ADDON_PACKAGES), ",".join(TRADING)],
                          env=env, cwd=pmx_home, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_addon_imports_and_loads_its_config_without_the_trading_pipeline(pmx_home: Path) -> None:
    out = _run_blocked(pmx_home)
    assert out["blocked"] == dict.fromkeys(TRADING, True)  # the blocker works
    assert out["failed"] == {}
    assert out["trading_loaded"] == []
    assert {"addon.plugin", "listeners.hooks", "alerts.ui_app", "alerts.outbox_worker", "lineage.masking",
            "dashboards.build", "monitoring.statsd_bridge.server"} <= set(out["imported"])
    assert (out["listeners"], out["apps"], out["refs"]) == (1, 1, 1)
    assert out["timezone"] == "America/New_York" and out["slas"] > 0
    assert out["etl_deadlines"] == 2  # time_of_day: scheduled runs + manual runs
