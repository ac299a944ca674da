"""Access to the portfolio database: connections, migrations, and for SQLite WAL, integrity checks, online backup
and recovery.

The database is a SQLite file (``PORTFOLIO_DB_PATH`` or ``database.path`` of ``config/pipeline.yml``, the
default) or a PostgreSQL database (``PORTFOLIO_DB_DSN`` or ``database.backend: postgresql`` with
``database.dsn``), as :mod:`portfolio.db_backend` resolves it. On PostgreSQL the server owns integrity and
backups (``pg_dump``, docs/operations.md): :meth:`DatabaseManager.integrity_check` finds no problems,
:meth:`DatabaseManager.backup` writes nothing, and writes hold a transaction-scoped advisory lock, the
counterpart of SQLite's ``BEGIN IMMEDIATE``.

SQLite: the first open in a process checks the file. Only real corruption (``PRAGMA integrity_check`` failing,
"file is not a database", a malformed image) triggers recovery: the file is moved aside and the newest backup
that passes the check is restored (or an empty database created), said on stderr, counted as ``pmx.db.recovery``
and queued as an incident (:func:`take_recoveries`, routed by the entrypoint). A lock, a busy timeout, a
permission error or a full disk is not corruption: it raises :class:`DatabaseUnavailable` and nothing is touched.
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
from portfolio.db_backend import (
    POSTGRESQL,
    SQLITE,
    Connection,
    DatabaseTarget,
    PgConnection,
    connect_postgresql,
    default_db_path,
    resolve_target,
)
from portfolio.db_errors import (
    BUSY_TIMEOUT_ENV,
    BUSY_TIMEOUT_MS,
    DatabaseError,
    DatabaseUnavailable,
    default_busy_timeout_ms,
    is_corruption,
    is_postgresql_unavailable,
    is_unavailable,
    unavailable,
)
from portfolio.db_recovery import Recovery, queue_recovery, take_recoveries
from portfolio.schema import MIGRATIONS, SCHEMA_VERSION, VERSION_TABLE, migration_script

_ready: set[str] = set()
_ready_lock = threading.Lock()


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
    """Opens connections to one portfolio database (SQLite file or PostgreSQL) and keeps it migrated and healthy.

    ``path`` names a SQLite file and ``dsn`` a PostgreSQL database explicitly; without either the database is
    resolved by :func:`portfolio.db_backend.resolve_target`. ``path`` is ``None`` on PostgreSQL; ``location``
    is what to show either way (a DSN with its password masked).
    """

    def __init__(self, path: Path | str | None = None, *, dsn: str | None = None,
                 backups_dir: Path | str | None = None, backups_keep: int | None = None,
                 logger: PipelineLogger | None = None, busy_timeout_ms: int | None = None) -> None:
        self.target: DatabaseTarget = resolve_target(path, dsn)
        self.backend = self.target.backend
        self.path: Path | None = self.target.path
        self.busy_timeout_ms = busy_timeout_ms or default_busy_timeout_ms()
        if backups_dir is None or backups_keep is None:
            from portfolio.settings import load_settings

            cfg = load_settings().database
            backups_dir = backups_dir or paths.resolve(cfg.backups_dir)
            backups_keep = backups_keep or cfg.backups_keep
        self.backups_dir = Path(backups_dir)
        self.backups_keep = backups_keep
        self.log = logger or get_logger("database")

    @property
    def location(self) -> str:
        """The SQLite file, or the PostgreSQL DSN with its password masked (safe to log and show)."""
        return self.target.location

    @property
    def file(self) -> Path:
        """The SQLite file (:class:`DatabaseError` on PostgreSQL, which has none)."""
        if self.path is None:
            raise DatabaseError(f"{self.location}: a PostgreSQL database has no file (back it up with pg_dump)")
        return self.path

    # -- connections -------------------------------------------------------------------------------------
    def _sqlite_connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.file, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
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
            raise unavailable(self.file, exc, self.busy_timeout_ms, "opening") from exc
        return conn

    def _postgresql_connect(self) -> PgConnection:
        assert self.target.dsn is not None
        try:
            return connect_postgresql(self.target.dsn)
        except Exception as exc:
            if not is_postgresql_unavailable(exc):
                raise
            raise unavailable(self.location, exc, self.busy_timeout_ms, "opening") from None

    def _raw_connect(self) -> Connection:
        return self._postgresql_connect() if self.backend == POSTGRESQL else self._sqlite_connect()

    def connect(self) -> Connection:
        """A new autocommit connection (use :meth:`transaction` for atomic writes); checks the database once."""
        self.ensure_ready()
        return self._raw_connect()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside a write transaction (rolled back on exception), then closed.

        SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: ``BEGIN`` plus the database-wide advisory write lock, so writers
        are serialized on both and the read-check-write sequences of the broker and trader stay atomic.
        """
        conn = self.connect()
        try:
            self._begin_write(conn)
            yield conn
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if not self._is_unavailable(exc):
                raise
            raise unavailable(self.location, exc, self.busy_timeout_ms, "a write") from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def _begin_write(self, conn: Connection) -> None:
        if isinstance(conn, PgConnection):
            conn.begin_write(self.busy_timeout_ms)
        else:
            conn.execute("BEGIN IMMEDIATE")

    @staticmethod
    def _is_unavailable(exc: BaseException) -> bool:
        if isinstance(exc, sqlite3.OperationalError):
            return is_unavailable(exc)
        return is_postgresql_unavailable(exc)

    # -- health ------------------------------------------------------------------------------------------
    def ensure_ready(self) -> None:
        """Once per process and database: (SQLite) recover a corrupt file, then apply pending migrations."""
        key = self.target.key
        if key in _ready:
            return
        with _ready_lock:
            if key in _ready:
                return
            if self.backend == SQLITE:
                self.file.parent.mkdir(parents=True, exist_ok=True)
                if self.file.exists() and self.file.stat().st_size > 0:
                    problems = integrity_problems(self.file, self.busy_timeout_ms)
                    if problems:
                        self.recover(problems)
            self.migrate()
            _ready.add(key)

    def migrate(self) -> int:
        """Apply the migrations beyond the database's schema version; return the resulting version."""
        if self.backend == POSTGRESQL:
            return self._migrate_postgresql()
        with closing(self._sqlite_connect()) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            self._check_version(version)
            for number in range(version + 1, SCHEMA_VERSION + 1):
                try:
                    conn.executescript(
                        f"BEGIN IMMEDIATE;\n{MIGRATIONS[number - 1]}\nPRAGMA user_version = {number};\nCOMMIT;")
                except sqlite3.OperationalError as exc:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    if not is_unavailable(exc):
                        raise
                    raise unavailable(self.file, exc, self.busy_timeout_ms, f"migration {number}") from exc
                self.log.log_event("db_migrated", db_path=self.location, schema_version=number)
            return max(version, SCHEMA_VERSION)

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise DatabaseError(f"{self.location}: schema version {version} is newer than this code "
                                f"({SCHEMA_VERSION})")

    def _migrate_postgresql(self) -> int:
        """All pending migrations in one transaction under the write lock (concurrent first opens wait)."""
        conn = self._postgresql_connect()
        applied: list[int] = []
        try:
            conn.begin_write(self.busy_timeout_ms)
            conn.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER NOT NULL)")
            row = conn.execute(f"SELECT version FROM {VERSION_TABLE}").fetchone()
            if row is None:
                conn.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (0)")
            version = int(row[0]) if row else 0
            self._check_version(version)
            for number in range(version + 1, SCHEMA_VERSION + 1):
                conn.executescript(migration_script(number, POSTGRESQL))
                conn.execute(f"UPDATE {VERSION_TABLE} SET version = ?", (number,))
                applied.append(number)
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if not is_postgresql_unavailable(exc):
                raise
            raise unavailable(self.location, exc, self.busy_timeout_ms, "a migration") from None
        finally:
            conn.close()
        for number in applied:
            self.log.log_event("db_migrated", db_path=self.location, schema_version=number)
        return max(version, SCHEMA_VERSION)

    def schema_version(self) -> int:
        """The schema version the database is at (after :meth:`ensure_ready`: :data:`SCHEMA_VERSION`)."""
        conn = self.connect()
        try:
            sql = f"SELECT version FROM {VERSION_TABLE}" if self.backend == POSTGRESQL else "PRAGMA user_version"
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()

    def integrity_check(self) -> list[str]:
        """Problems reported by ``PRAGMA integrity_check`` (empty list = healthy); none on PostgreSQL."""
        if self.backend == POSTGRESQL:
            return []
        return integrity_problems(self.file, self.busy_timeout_ms)

    # -- backup and recovery -----------------------------------------------------------------------------
    def backup(self) -> Path | None:
        """Write an online, consistent copy to the backups directory and prune old ones; return its path.

        ``None`` on PostgreSQL: the server's database is backed up with ``pg_dump`` (docs/operations.md).
        """
        self.ensure_ready()
        if self.backend == POSTGRESQL:
            return None
        self.backups_dir.mkdir(parents=True, exist_ok=True)
        target = self.backups_dir / f"{self.file.stem}-{_stamp()}.db"
        with closing(self._sqlite_connect()) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        for old in self.backups()[self.backups_keep:]:
            old.unlink(missing_ok=True)
        self.log.log_event("db_backup", db_path=self.location, backup_path=str(target))
        return target

    def backups(self) -> list[Path]:
        """Backups of this database, newest first (none on PostgreSQL)."""
        if self.path is None:
            return []
        return sorted(self.backups_dir.glob(f"{self.path.stem}-*.db"), reverse=True)

    def recover(self, problems: list[str]) -> Path | None:
        """Move the corrupt file aside and restore the newest healthy backup; return the backup used.

        Loud on purpose: one line on stderr, ``pmx.db.recovery`` (+ ``pmx.db.recovery_backup_age``), an
        error event, and a :class:`Recovery` queued for :func:`take_recoveries` (the incident).
        """
        aside = self.file.with_name(f"{self.file.name}.corrupt-{_stamp()}")
        os.replace(self.file, aside)
        for suffix in ("-wal", "-shm"):
            sidecar = Path(str(self.file) + suffix)
            if sidecar.exists():
                os.replace(sidecar, Path(str(aside) + suffix))
        used = self._restore_newest_backup()
        taken_at = age = None
        if used is not None:
            mtime = used.stat().st_mtime
            taken_at = datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            age = round(max(0.0, time.time() - mtime), 1)
        recovery = Recovery(db_path=str(self.file), corrupt_copy=str(aside), problems=[p[:300] for p in problems[:5]],
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
            shutil.copy2(candidate, self.file)
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

            client, tags = get_client(), {"db": self.file.stem, "outcome": recovery.outcome}
            client.incr("db.recovery", tags=tags)
            if recovery.backup_age_seconds is not None:
                client.gauge("db.recovery_backup_age", recovery.backup_age_seconds, tags={"db": self.file.stem})
        except Exception:  # the metric client counts its own failures
            pass


__all__ = ["BUSY_TIMEOUT_ENV", "BUSY_TIMEOUT_MS", "DatabaseError", "DatabaseManager", "DatabaseUnavailable",
           "Recovery", "default_db_path", "forget_ready_state", "integrity_problems", "take_recoveries"]


def forget_ready_state() -> None:
    """Make the next open re-check every database (tests, long-lived processes after external changes)."""
    with _ready_lock:
        _ready.clear()
