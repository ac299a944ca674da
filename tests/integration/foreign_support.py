"""A stack that runs only a foreign DAG, with its own config and the trading pipeline impossible to import.

Same components as the session stack (api-server, scheduler, dag-processor, triggerer, outbox worker) on its
own home and ports. Every process starts with tests/harness/block_trading first on ``PYTHONPATH``:
``portfolio``, ``scripts``, ``orchestration`` and ``local_stack`` raise ImportError there. StatsD goes
straight to a real StatsD-to-Prometheus bridge (monitoring.statsd_bridge) whose ``/metrics`` is scraped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from foundation.paths import REPO_ROOT
from local_stack.airflow_env import StackLayout
from local_stack.stack import AirflowStack
from tests.support import free_port

FOREIGN_DAGS = Path(__file__).parent / "foreign" / "dags"  # "dags": tests/wait_budget.py skips DAG code
BLOCKER = REPO_ROOT / "tests" / "harness" / "block_trading"
DAG_ID, SLA = "acme_orders", "acme_orders_quick"
SLA_SECONDS = 5

SLAS = {
    "timezone": "Europe/Berlin",
    "slas": {SLA: {"dag_id": DAG_ID, "reference": "queued", "interval": f"{SLA_SECONDS}s", "severity": "warning",
                   "channels": ["local"], "runbook": "https://acme.example/runbooks/orders",
                   "description": "Orders received and packed within seconds"}},
}
ALERTING = {
    "worker": {"poll_interval_seconds": 0.2, "run_check_interval_seconds": 1, "metrics_interval_seconds": 2,
               "heartbeat_seconds": 2, "outage_after_seconds": 60},
    "retry": {"initial_delay_seconds": 0.5, "multiplier": 2, "max_delay_seconds": 2, "timeout_seconds": 3},
    "channels": {"local": {"type": "file", "path": "logs/alerts/incidents.jsonl"}},
    "routing": {severity: ["local"] for severity in ("critical", "error", "warning", "info")},
}
OBSERVABILITY = {
    "event_log": {"dir": "logs/pipeline"},
    "listener": {"enabled": True, "lifecycle_events": True},
    "error_monitor": {"enabled": True, "state_path": "data/error_monitor.sqlite"},
}


def write_foreign_config(directory: Path) -> Path:
    """The foreign deployment's own config dir: slas.yml, alerting.yml, observability.yml, nothing else."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in (("slas", SLAS), ("alerting", ALERTING), ("observability", OBSERVABILITY)):
        (directory / f"{name}.yml").write_text(yaml.safe_dump(body, sort_keys=False))
    return directory


def foreign_stack(root: Path, statsd_port: int) -> AirflowStack:
    """The stack (not started) for ``root``: own home, ports, config, DAG folder and blocked imports."""
    config_dir = write_foreign_config(root / "config")
    bundle = [{"name": "acme-dags", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
               "kwargs": {"path": str(FOREIGN_DAGS)}}]
    layout = StackLayout(
        home=root / "airflow", api_port=free_port(), statsd_port=statsd_port, log_port=free_port(),
        trigger_log_port=free_port(), scheduler_health_port=free_port(), pmx_home=root / "acme",
        extra={"AIRFLOW__CORE__DAGS_FOLDER": str(FOREIGN_DAGS),
               "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundle),
               "AIRFLOW__CORE__MP_FORKSERVER_PRELOAD": "",  # ours preloads portfolio; a foreign stack does not
               "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
               "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5"},
    )
    python_path = os.pathsep.join([str(BLOCKER), str(REPO_ROOT)])
    env = {"PMX_CONFIG_DIR": str(config_dir), "PMX_LOG_DIR": str(root / "acme" / "logs"),
           "PMX_STATSD_ENABLED": "true", "PYTHONPATH": python_path,
           "PMX_BLOCKED_PACKAGES": "portfolio,scripts,orchestration,local_stack"}
    return AirflowStack(layout, extra_env=env)
