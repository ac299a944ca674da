"""SQLite access for the portfolio database: migrations, WAL, integrity checks, online backup and recovery.

The database lives at ``PORTFOLIO_DB_PATH`` or ``database.path`` of ``config/pipeline.yml``. The first open in
a process checks the file; a corrupt file is moved aside and the newest backup that passes
``PRAGMA integrity_check`` is restored, with a ``db_recovered`` event saying so.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from portfolio import paths
from portfolio.pipeline_logger import PipelineLogger, get_logger
from portfolio.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 30_000
_ready: set[str] = set()
_ready_lock = threading.Lock()


class DatabaseError(RuntimeError):
    """The database could not be opened, checked or recovered."""


def default_db_path() -> Path:
    """``PORTFOLIO_DB_PATH`` or the configured ``database.path``."""
    env = os.environ.get("PORTFOLIO_DB_PATH")
    if env:
        return paths.resolve(env)
    from portfolio.settings import load_settings

    return paths.resolve(load_settings().database.path)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def integrity_problems(path: Path) -> list[str]:
    """Run ``PRAGMA integrity_check`` on ``path``; return the problems (empty when healthy)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)) as conn:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        return [f"{type(exc).__name__}: {exc}"]
    return [] if rows == ["ok"] else rows


class DatabaseManager:
    """Opens connections to one SQLite database file and keeps it healthy."""

    def __init__(self, path: Path | str | None = None, *, backups_dir: Path | str | None = None,
                 backups_keep: int | None = None, logger: PipelineLogger | None = None) -> None:
        self.path = Path(path) if path else default_db_path()
        if backups_dir is None or backups_keep is None:
            from portfolio.settings import load_settings

            cfg = load_settings().database
            backups_dir = backups_dir or paths.resolve(cfg.backups_dir)
            backups_keep = backups_keep or cfg.backups_keep
        self.backups_dir = Path(backups_dir)
        self.backups_keep = backups_keep
        self.log = logger or get_logger("database")

    # -- connections -------------------------------------------------------------------------------------
    def _raw_connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def connect(self) -> sqlite3.Connection:
        """A new autocommit connection (use :meth:`transaction` for atomic writes); checks the file once."""
        self.ensure_ready()
        return self._raw_connect()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on exception), then closed."""
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    # -- health ------------------------------------------------------------------------------------------
    def ensure_ready(self) -> None:
        """Once per process and path: recover a corrupt file, then apply pending migrations."""
        key = str(self.path.resolve())
        if key in _ready:
            return
        with _ready_lock:
            if key in _ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size > 0:
                problems = integrity_problems(self.path)
                if problems:
                    self.recover(problems)
            self.migrate()
            _ready.add(key)

    def migrate(self) -> int:
        """Apply migrations beyond ``PRAGMA user_version``; return the resulting version."""
        with closing(self._raw_connect()) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DatabaseError(f"{self.path}: schema version {version} is newer than this code ({SCHEMA_VERSION})")
            for number in range(version + 1, SCHEMA_VERSION + 1):
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{MIGRATIONS[number - 1]}\nPRAGMA user_version = {number};\nCOMMIT;")
                self.log.log_event("db_migrated", db_path=str(self.path), schema_version=number)
            return max(version, SCHEMA_VERSION)

    def integrity_check(self) -> list[str]:
        """Problems reported by ``PRAGMA integrity_check`` (empty list = healthy)."""
        return integrity_problems(self.path)

    # -- backup and recovery -----------------------------------------------------------------------------
    def backup(self) -> Path:
        """Write an online, consistent copy to the backups directory and prune old ones; return its path."""
        self.ensure_ready()
        self.backups_dir.mkdir(parents=True, exist_ok=True)
        target = self.backups_dir / f"{self.path.stem}-{_stamp()}.db"
        with closing(self._raw_connect()) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        for old in self.backups()[self.backups_keep:]:
            old.unlink(missing_ok=True)
        self.log.log_event("db_backup", db_path=str(self.path), backup_path=str(target))
        return target

    def backups(self) -> list[Path]:
        """Backups of this database, newest first."""
        return sorted(self.backups_dir.glob(f"{self.path.stem}-*.db"), reverse=True)

    def recover(self, problems: list[str]) -> Path | None:
        """Move the corrupt file aside and restore the newest healthy backup; return the backup used."""
        aside = self.path.with_name(f"{self.path.name}.corrupt-{_stamp()}")
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            sidecar = Path(str(self.path) + suffix)
            if sidecar.exists():
                os.replace(sidecar, Path(str(aside) + suffix))
        for candidate in self.backups():
            if not integrity_problems(candidate):
                shutil.copy2(candidate, self.path)
                self.log.log_event("db_recovered", level="error", db_path=str(self.path), backup_path=str(candidate),
                                   corrupt_copy=str(aside), problems=problems[:5])
                return candidate
        self.log.log_event("db_recreated", level="error", db_path=str(self.path), corrupt_copy=str(aside),
                           problems=problems[:5], reason="no healthy backup; starting from an empty database")
        return None


def forget_ready_state() -> None:
    """Make the next open re-check every database (tests, long-lived processes after external changes)."""
    with _ready_lock:
        _ready.clear()
