"""The checkout's own local stack (``make run`` / ``make up``): home ``.airflow/`` and ports from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from orchestration.airflow_env import StackLayout
from orchestration.api_client import AirflowApi
from portfolio import paths


def local_layout() -> StackLayout:
    """Layout of the local stack; ``PMX_AIRFLOW_HOME``, ``PMX_API_PORT``, ``PMX_STATSD_PORT`` override."""
    home = Path(os.environ.get("PMX_AIRFLOW_HOME") or paths.REPO_ROOT / ".airflow")
    return StackLayout(home=home.resolve(), api_port=int(os.environ.get("PMX_API_PORT", "8080")),
                       statsd_port=int(os.environ.get("PMX_STATSD_PORT", "9125")), pmx_home=paths.project_home())


def local_api(url: str | None = None) -> AirflowApi:
    """REST client for the local stack (password from its generated passwords file)."""
    layout = local_layout()
    return AirflowApi(url or layout.api_url,
                      passwords_file=layout.home / "simple_auth_manager_passwords.json.generated")
