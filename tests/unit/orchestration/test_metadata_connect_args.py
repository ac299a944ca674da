"""The SQLite metadata database waits 30 s for its lock; any other database gets no extra connect arguments."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from foundation.paths import REPO_ROOT

PROBE = """
from airflow import settings
from airflow_local_settings import METADATA_CONNECT_ARGS
print(METADATA_CONNECT_ARGS, settings.engine.url.get_backend_name() if settings.engine else None)
"""


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:///{tmp}/airflow.db", "{'timeout': 30"),  # (Airflow adds check_same_thread to it)
    ("postgresql+psycopg2://nobody@127.0.0.1:1/none", "{}"),
])
def test_connect_args_follow_the_metadata_database(tmp_path, url: str, expected: str) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "PYTHONPATH": str(REPO_ROOT),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url.format(tmp=tmp_path),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "airflow_local_settings.METADATA_CONNECT_ARGS"}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1].startswith(expected)


def test_the_shipped_config_names_them_for_both_engines() -> None:
    import yaml

    database = yaml.safe_load((REPO_ROOT / "config" / "airflow.yml").read_text())["database"]
    assert database["sql_alchemy_connect_args"] == "airflow_local_settings.METADATA_CONNECT_ARGS"
    assert database["sql_alchemy_connect_args_async"] == "airflow_local_settings.METADATA_CONNECT_ARGS_ASYNC"
