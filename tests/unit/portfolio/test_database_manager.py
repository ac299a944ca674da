from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from foundation.pipeline_logger import read_events
from portfolio.database_manager import DatabaseManager, forget_ready_state
from portfolio.schema import SCHEMA_VERSION


def _insert_bar(db: DatabaseManager, ticker: str, day: str) -> None:
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO ohlcv VALUES (?, ?, 1, 2, 0.5, 1.5, 100, 'synthetic', '2026-01-01T00:00:00Z')", (ticker, day)
        )


def test_fresh_database_is_migrated_and_in_wal_mode(pmx_home: Path) -> None:
    db = DatabaseManager()
    with db.connect() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.integrity_check() == []
    assert db.path == pmx_home / "data" / "portfolio_maximizer.db"


def test_transaction_rolls_back_on_error(pmx_home: Path) -> None:
    db = DatabaseManager()
    with pytest.raises(sqlite3.IntegrityError), db.transaction() as conn:
        conn.execute("INSERT INTO ohlcv VALUES ('AAPL','2026-01-02',1,2,0.5,1.5,100,'s','t')")
        conn.execute("INSERT INTO ohlcv VALUES ('AAPL','2026-01-02',1,2,0.5,1.5,100,'s','t')")
    with db.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM ohlcv").fetchone()[0] == 0


def test_backup_keeps_the_newest_copies(pmx_home: Path) -> None:
    db = DatabaseManager(backups_keep=2)
    _insert_bar(db, "AAPL", "2026-01-02")
    made = [db.backup() for _ in range(4)]
    assert db.backups() == sorted(made[-2:], reverse=True)
    with sqlite3.connect(made[-1]) as conn:
        assert conn.execute("SELECT COUNT(*) FROM ohlcv").fetchone()[0] == 1


def test_corrupt_file_is_restored_from_latest_good_backup(pmx_home: Path) -> None:
    db = DatabaseManager()
    _insert_bar(db, "AAPL", "2026-01-02")
    db.backup()
    _insert_bar(db, "MSFT", "2026-01-02")  # after the backup: lost by design, the corrupt copy keeps it
    good = db.backup()
    db.backups_dir.joinpath("portfolio_maximizer-99999999T000000000000Z.db").write_bytes(b"not sqlite" * 100)
    db.path.write_bytes(b"\x00garbage" * 4096)
    for sidecar in ("-wal", "-shm"):
        Path(str(db.path) + sidecar).unlink(missing_ok=True)
    forget_ready_state()

    reopened = DatabaseManager()
    with reopened.connect() as conn:
        tickers = [r[0] for r in conn.execute("SELECT ticker FROM ohlcv ORDER BY ticker")]
    assert tickers == ["AAPL", "MSFT"]
    (event,) = [e for e in read_events(pmx_home / "logs" / "pipeline") if e["event"] == "db_recovered"]
    assert event["backup_path"] == str(good), "the corrupt newer 'backup' must be passed over"
    assert Path(event["corrupt_copy"]).exists()
    assert [e["event"] for e in read_events(pmx_home / "logs" / "pipeline", "errors")] == ["db_recovered"]


def test_corrupt_file_without_backup_starts_empty_and_says_so(pmx_home: Path) -> None:
    db = DatabaseManager()
    db.connect().close()
    db.path.write_bytes(b"junk" * 2048)
    forget_ready_state()
    with DatabaseManager().connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM ohlcv").fetchone()[0] == 0
    events = [e["event"] for e in read_events(pmx_home / "logs" / "pipeline")]
    assert "db_recreated" in events


def test_newer_schema_is_refused(pmx_home: Path) -> None:
    db = DatabaseManager()
    with db.connect() as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    forget_ready_state()
    with pytest.raises(RuntimeError, match="newer than this code"):
        DatabaseManager().connect()
