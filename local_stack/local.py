"""The checkout's own local stack (``make run`` / ``make up``): home ``.airflow/`` and ports from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from foundation import paths
from local_stack.airflow_env import StackLayout
from local_stack.api_client import AirflowApi
from local_stack.stack import BOUND_PORTS


def _port(setting: str, default: int) -> int:
    raw = os.environ.get(setting, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"environment {setting} = {raw!r}: must be a TCP port number (1-65535)")
    return int(raw)


def local_layout() -> StackLayout:
    """Layout of the local stack: ``PMX_AIRFLOW_HOME`` and the ports of ``stack.BOUND_PORTS`` override."""
    home = Path(os.environ.get("PMX_AIRFLOW_HOME") or paths.REPO_ROOT / ".airflow")
    d = StackLayout(home=home)
    setting = {field: name for field, (_, _, name) in BOUND_PORTS.items()}
    return StackLayout(home=home.resolve(), pmx_home=paths.project_home(),
                       api_port=_port(setting["api_port"], d.api_port),
                       log_port=_port(setting["log_port"], d.log_port),
                       trigger_log_port=_port(setting["trigger_log_port"], d.trigger_log_port),
                       scheduler_health_port=_port(setting["scheduler_health_port"], d.scheduler_health_port),
                       statsd_port=_port("PMX_STATSD_PORT", d.statsd_port))


def local_api(url: str | None = None) -> AirflowApi:
    """REST client for the local stack (password from its generated passwords file)."""
    layout = local_layout()
    return AirflowApi(url or layout.api_url,
                      passwords_file=layout.home / "simple_auth_manager_passwords.json.generated")
