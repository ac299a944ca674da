"""`make run` skips ``airflow db migrate`` when the SQLite metadata database is already at the revision the installed
Airflow migrated it to, and migrates whenever that changed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from local_stack import stack as stack_module
from local_stack.airflow_env import StackLayout
from local_stack.stack import AirflowStack


def _set_revision(db: Path, revision: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num TEXT)")
        conn.execute("DELETE FROM alembic_version")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (revision,))


def test_migrate_runs_only_when_the_schema_stamp_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = AirflowStack(StackLayout(home=tmp_path / "airflow", pmx_home=tmp_path / "pmx"))
    db = Path(stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
    calls: list[tuple[str, ...]] = []

    def fake_cli(env: dict[str, str], *args: str, timeout: float = 300) -> None:
        calls.append(args)
        _set_revision(db, "rev-b" if len(calls) > 1 else "rev-a")

    monkeypatch.setattr(stack_module, "airflow_cli", fake_cli)
    stack.migrate()  # no database yet: migrates
    stack.migrate()  # at the stamped revision: skipped
    assert calls == [("db", "migrate")]
    _set_revision(db, "rev-old")  # e.g. restored from a backup
    stack.migrate()
    stack.migrate()
    assert len(calls) == 2
    assert (tmp_path / "airflow" / "migrated.stamp").read_text().endswith(" rev-b")
