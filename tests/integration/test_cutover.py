"""The cutover tool against the session's real api-server: migrating a job comments its crontab line and unpauses
its DAG; rolling back pauses the DAG and restores the crontab byte for byte (a crontab file in a temp dir, never the
machine's own)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from foundation.paths import REPO_ROOT
from local_stack.cutover.cli import PASSWORD_VARIABLE, main

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

JOB = DAG = "nightly_backfill"


def test_migrate_then_rollback_on_the_real_api(airflow_stack: Any, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    api = airflow_stack.api
    crontab = tmp_path / "crontab"
    shutil.copyfile(REPO_ROOT / "deploy" / "cron" / "production.crontab", crontab)
    original = crontab.read_bytes()
    passwords = airflow_stack.layout.home / "simple_auth_manager_passwords.json.generated"
    monkeypatch.setenv(PASSWORD_VARIABLE, json.loads(passwords.read_text())["admin"])
    common = ["--crontab", str(crontab), "--state", str(tmp_path / "state.json"),
              "--api-url", airflow_stack.layout.api_url]
    api.wait_for_dags([DAG])
    api.set_paused(DAG, True)

    assert main(["migrate", *common, "--jobs", JOB, "--unpause"]) == 0
    assert api.dag(DAG)["is_paused"] is False
    migrated = crontab.read_text().splitlines()
    (line,) = [x for x in migrated if f"production_cron.sh {JOB} " in x]
    assert line.startswith("#"), line
    assert main(["status", *common[:4]]) == 0

    assert main(["rollback", *common, "--jobs", JOB]) == 0
    assert api.dag(DAG)["is_paused"] is True
    assert crontab.read_bytes() == original
