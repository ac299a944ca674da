"""SQLite access for the portfolio database: migrations, WAL, integrity checks, online backup and recovery.

The database lives at ``PORTFOLIO_DB_PATH`` or ``database.path`` of ``config/pipeline.yml``. The first open in
a process checks the file. Only real corruption (``PRAGMA integrity_check`` failing, "file is not a database",
a malformed image) triggers recovery: the file is moved aside and the newest backup that passes the check is
restored (or an empty database created), said on stderr, counted as ``pmx.db.recovery`` and queued as an
incident (:func:`take_recoveries`, routed by the entrypoint). A lock, a busy timeout, a permission error or a
full disk is not corruption: it raises :class:`DatabaseUnavailable` and nothing is touched.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from foundation import paths
from foundation.pipeline_logger import PipelineLogger, get_logger
from portfolio.db_errors import (
    BUSY_TIMEOUT_ENV,
    BUSY_TIMEOUT_MS,
    DatabaseError,
    DatabaseUnavailable,
    default_busy_timeout_ms,
    is_corruption,
    is_unavailable,
    unavailable,
)
from portfolio.db_recovery import Recovery, queue_recovery, take_recoveries
from portfolio.schema import MIGRATIONS, SCHEMA_VERSION

_ready: set[str] = set()
_ready_lock = threading.Lock()


def default_db_path() -> Path:
    """The run's ``database_path`` (:mod:`portfolio.run_scope`), else ``PORTFOLIO_DB_PATH``, else config."""
    from portfolio.run_scope import current

    inputs = current()
    env = (inputs.database_path if inputs else None) or os.environ.get("PORTFOLIO_DB_PATH")
    if env:
        return paths.resolve(env)
    from portfolio.settings import load_settings

    return paths.resolve(load_settings().database.path)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def integrity_problems(path: Path, timeout_ms: int | None = None) -> list[str]:
    """Run ``PRAGMA integrity_check`` on ``path``; return the corruption found (empty when healthy).

    Raises :class:`DatabaseUnavailable` when the check cannot run for a reason that is not corruption
    (locked, busy timeout, permission, full disk, I/O): such a file must never be "recovered".
    """
    timeout_ms = default_busy_timeout_ms() if timeout_ms is None else timeout_ms
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout_ms / 1000)) as conn:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.Error as exc:
        if is_corruption(exc):
            return [f"{type(exc).__name__}: {exc}"]
        raise unavailable(path, exc, timeout_ms, "the integrity check") from exc
    return [] if rows == ["ok"] else [str(r) for r in rows]


class DatabaseManager:
    """Opens connections to one SQLite database file and keeps it healthy."""

    def __init__(self, path: Path | str | None = None, *, backups_dir: Path | str | None = None,
                 backups_keep: int | None = None, logger: PipelineLogger | None = None,
                 busy_timeout_ms: int | None = None) -> None:
        self.path = Path(path) if path else default_db_path()
        self.busy_timeout_ms = busy_timeout_ms or default_busy_timeout_ms()
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
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            conn.close()
            if not is_unavailable(exc):
                raise
            raise unavailable(self.path, exc, self.busy_timeout_ms, "opening") from exc
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
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if not is_unavailable(exc):
                raise
            raise unavailable(self.path, exc, self.busy_timeout_ms, "a write") from exc
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
                problems = integrity_problems(self.path, self.busy_timeout_ms)
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
                try:
                    conn.executescript(
                        f"BEGIN IMMEDIATE;\n{MIGRATIONS[number - 1]}\nPRAGMA user_version = {number};\nCOMMIT;")
                except sqlite3.OperationalError as exc:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    if not is_unavailable(exc):
                        raise
                    raise unavailable(self.path, exc, self.busy_timeout_ms, f"migration {number}") from exc
                self.log.log_event("db_migrated", db_path=str(self.path), schema_version=number)
            return max(version, SCHEMA_VERSION)

    def integrity_check(self) -> list[str]:
        """Problems reported by ``PRAGMA integrity_check`` (empty list = healthy)."""
        return integrity_problems(self.path, self.busy_timeout_ms)

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
        """Move the corrupt file aside and restore the newest healthy backup; return the backup used.

        Loud on purpose: one line on stderr, ``pmx.db.recovery`` (+ ``pmx.db.recovery_backup_age``), an
        error event, and a :class:`Recovery` queued for :func:`take_recoveries` (the incident).
        """
        aside = self.path.with_name(f"{self.path.name}.corrupt-{_stamp()}")
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            sidecar = Path(str(self.path) + suffix)
            if sidecar.exists():
                os.replace(sidecar, Path(str(aside) + suffix))
        used = self._restore_newest_backup()
        taken_at = age = None
        if used is not None:
            mtime = used.stat().st_mtime
            taken_at = datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            age = round(max(0.0, time.time() - mtime), 1)
        recovery = Recovery(db_path=str(self.path), corrupt_copy=str(aside), problems=[p[:300] for p in problems[:5]],
                            backup_path=str(used) if used else None, backup_taken_at=taken_at,
                            backup_age_seconds=age, at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self._announce(recovery)
        return used

    def _restore_newest_backup(self) -> Path | None:
        for candidate in self.backups():
            try:
                if integrity_problems(candidate, self.busy_timeout_ms):
                    continue
            except DatabaseUnavailable:
                continue
            shutil.copy2(candidate, self.path)
            return candidate
        return None

    def _announce(self, recovery: Recovery) -> None:
        """stderr line, metrics, event, queued incident; the metric and event paths never raise."""
        queue_recovery(recovery)
        print(f"WARNING: {recovery.summary()}", file=sys.stderr, flush=True)
        event = "db_recovered" if recovery.backup_path else "db_recreated"
        self.log.log_event(event, level="critical" if recovery.backup_path is None else "error",
                           **recovery.as_dict())
        try:
            from foundation.metrics import get_client

            client, tags = get_client(), {"db": self.path.stem, "outcome": recovery.outcome}
            client.incr("db.recovery", tags=tags)
            if recovery.backup_age_seconds is not None:
                client.gauge("db.recovery_backup_age", recovery.backup_age_seconds, tags={"db": self.path.stem})
        except Exception:  # the metric client counts its own failures
            pass


__all__ = ["BUSY_TIMEOUT_ENV", "BUSY_TIMEOUT_MS", "DatabaseError", "DatabaseManager", "DatabaseUnavailable",
           "Recovery", "default_db_path", "forget_ready_state", "integrity_problems", "take_recoveries"]


def forget_ready_state() -> None:
    """Make the next open re-check every database (tests, long-lived processes after external changes)."""
    with _ready_lock:
        _ready.clear()
