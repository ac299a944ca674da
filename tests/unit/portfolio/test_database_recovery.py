"""Only real corruption triggers recovery, and a recovery is loud: stderr, metrics, event, incident."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from alerts.outbox import Outbox
from foundation.pipeline_logger import read_events
from portfolio import database_manager
from portfolio.database_manager import (
    DatabaseManager,
    DatabaseUnavailable,
    forget_ready_state,
    integrity_problems,
    take_recoveries,
)
from scripts.entrypoint import run_logged
from tests.support import received_lines


def _bar(db: DatabaseManager, ticker: str) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT INTO ohlcv VALUES (?, '2026-01-02', 1, 2, 0.5, 1.5, 100, 's', 't')", (ticker,))


def _corrupt(db: DatabaseManager) -> None:
    db.path.write_bytes(b"\x00garbage" * 4096)
    for sidecar in ("-wal", "-shm"):
        Path(str(db.path) + sidecar).unlink(missing_ok=True)
    forget_ready_state()


@pytest.mark.parametrize("content", [b"\x00garbage" * 4096, b"SQLite format 3\x00" + b"\xff" * 8192],
                         ids=["not-a-database", "malformed-image"])
def test_corruption_is_reported_as_problems(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(content)
    assert integrity_problems(path, 100)


def test_an_unopenable_path_is_unavailable_not_corrupt(pmx_home: Path) -> None:
    target = pmx_home / "data" / "dir.db"
    (target / "x").mkdir(parents=True)  # a directory where the file should be: fails for root too
    with pytest.raises(DatabaseUnavailable, match=r"dir\.db: the integrity check failed: SQLITE_IOERR"):
        DatabaseManager(target).connect()
    assert (target / "x").is_dir() and not list(target.parent.glob("*.corrupt-*"))


@pytest.mark.parametrize("code", ["SQLITE_FULL", "SQLITE_BUSY", "SQLITE_IOERR_READ", "SQLITE_READONLY"])
def test_operating_errors_never_trigger_recovery(pmx_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                  code: str) -> None:
    db = DatabaseManager()
    _bar(db, "AAPL")
    forget_ready_state()
    real_connect = sqlite3.connect

    def failing_connect(target: str, *args: object, **kwargs: object) -> sqlite3.Connection:
        if str(target).endswith("?mode=ro"):
            exc = sqlite3.OperationalError(f"simulated {code}")
            exc.sqlite_errorname = code  # type: ignore[attr-defined]
            raise exc
        return real_connect(target, *args, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(database_manager.sqlite3, "connect", failing_connect)
        with pytest.raises(DatabaseUnavailable, match=f"{code}: simulated {code}.*the database was not changed"):
            DatabaseManager().connect()
    assert not list(db.path.parent.glob("*.corrupt-*"))
    with DatabaseManager().connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM ohlcv").fetchone()[0] == 1


def test_sql_errors_in_a_transaction_stay_sql_errors(pmx_home: Path) -> None:
    with pytest.raises(sqlite3.OperationalError, match="no such column"), DatabaseManager().transaction() as conn:
        conn.execute("SELECT nope FROM ohlcv")


def test_a_restore_says_which_backup_and_how_old_on_stderr_and_as_metrics(
        pmx_home: Path, capsys: pytest.CaptureFixture[str], udp_metrics: socket.socket) -> None:
    db = DatabaseManager()
    _bar(db, "AAPL")
    backup = db.backup()
    hour_ago = time.time() - 3600
    os.utime(backup, (hour_ago, hour_ago))
    _corrupt(db)
    take_recoveries()
    with DatabaseManager().connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM ohlcv").fetchone()[0] == 1
    err = capsys.readouterr().err
    assert f"restored backup {backup}" in err and "(60 min old)" in err and "changes since then are lost" in err
    lines = received_lines(udp_metrics)
    assert "pmx.db.recovery,db=portfolio_maximizer,outcome=restored:1|c" in lines
    (age,) = [x for x in lines if x.startswith("pmx.db.recovery_backup_age,db=portfolio_maximizer:")]
    assert 3590 <= float(age.split(":")[1].split("|")[0]) <= 3700
    (recovery,) = take_recoveries()
    assert recovery.backup_path == str(backup) and recovery.outcome == "restored"
    (event,) = [e for e in read_events(pmx_home / "logs" / "pipeline", "errors") if e["event"] == "db_recovered"]
    assert event["backup_path"] == str(backup) and event["backup_age_seconds"] >= 3590


def test_an_entrypoint_turns_a_recreation_into_a_critical_incident(pmx_home: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    db = DatabaseManager()
    _bar(db, "AAPL")
    _corrupt(db)
    take_recoveries()

    def job() -> dict[str, int]:
        with DatabaseManager().connect() as conn:
            return {"rows": conn.execute("SELECT COUNT(*) FROM ohlcv").fetchone()[0]}

    assert run_logged("probe_job", job, {}) == {"rows": 0}
    assert "started from an EMPTY database, all data is lost" in capsys.readouterr().err
    with Outbox().connect() as conn:
        rows = [dict(r) for r in conn.execute("SELECT * FROM incidents WHERE kind = 'db_recovered'")]
    assert len(rows) == 1 and rows[0]["severity"] == "critical"
    assert "EMPTY database" in rows[0]["summary"]
    assert take_recoveries() == []
    names = [e["event"] for e in read_events(pmx_home / "logs" / "pipeline")]
    assert "db_recreated" in names and "incident_raised" in names
