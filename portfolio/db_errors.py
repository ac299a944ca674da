"""How the portfolio database can fail: real corruption (recover) versus an operating condition (never recover).

A lock, a busy timeout, a permission problem, a read-only file, a full disk or an I/O error leaves a healthy file
that cannot be used right now: :class:`DatabaseUnavailable`, and nothing may be moved or recreated. Only
``SQLITE_CORRUPT`` / ``SQLITE_NOTADB`` (or a failing ``PRAGMA integrity_check``) is corruption.

On PostgreSQL nothing is ever "corrupt" from here (the server owns its files): a server that cannot be reached,
a dropped connection, a lock wait beyond the timeout or a deadlock is :class:`DatabaseUnavailable`.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

BUSY_TIMEOUT_MS = 30_000
BUSY_TIMEOUT_ENV = "PORTFOLIO_DB_BUSY_TIMEOUT_MS"
CORRUPTION_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")  # and their extended codes (SQLITE_CORRUPT_INDEX...)
CORRUPTION_TEXT = ("malformed", "file is not a database", "not a database")
# the operating conditions that make a healthy file unusable for now (and their extended codes)
UNAVAILABLE_CODES = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR",
                     "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH", "SQLITE_NOLFS", "SQLITE_PROTOCOL")


class DatabaseError(RuntimeError):
    """The database could not be opened, checked or recovered."""


class DatabaseUnavailable(DatabaseError):
    """The database is fine as far as we know but cannot be used now (locked, busy, no permission, disk full)."""


def default_busy_timeout_ms() -> int:
    """``PORTFOLIO_DB_BUSY_TIMEOUT_MS`` or 30 s: how long an open waits for another process's lock."""
    raw = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    if not raw:
        return BUSY_TIMEOUT_MS
    if not raw.isdigit() or int(raw) < 1:
        from foundation.config_loader import ConfigError

        raise ConfigError(BUSY_TIMEOUT_ENV, BUSY_TIMEOUT_ENV, raw, "must be a positive number of milliseconds")
    return int(raw)


def is_corruption(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says the file itself is damaged (as opposed to locked, busy, unreadable, full)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(CORRUPTION_CODES):
        return True
    if name:
        return False
    text = str(exc).lower()
    return any(marker in text for marker in CORRUPTION_TEXT)


def is_unavailable(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is a lock, busy timeout, permission, read-only, full-disk or I/O condition."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(UNAVAILABLE_CODES) or (not name and "locked" in str(exc).lower())


def is_postgresql_unavailable(exc: BaseException) -> bool:
    """Whether a psycopg2 error is an operating condition: no server, a lost connection, a lock timeout."""
    try:
        import psycopg2
    except ImportError:  # pragma: no cover - psycopg2 is a locked dependency
        return False
    return isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError))


def unavailable(path: Path | str, exc: BaseException, timeout_ms: int, doing: str) -> DatabaseUnavailable:
    """A :class:`DatabaseUnavailable` that names the database, what failed, why, and that nothing was changed."""
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    hints = {"SQLITE_BUSY": f"another process holds a lock on it (waited {timeout_ms / 1000:g} s, "
                            f"{BUSY_TIMEOUT_ENV} sets the wait)",
             "SQLITE_LOCKED": "a table is locked by another connection",
             "SQLITE_CANTOPEN": "the file cannot be opened (permissions, missing directory?)",
             "SQLITE_PERM": "permission denied", "SQLITE_READONLY": "the file or its directory is read-only",
             "SQLITE_FULL": "the disk is full", "SQLITE_IOERR": "an I/O error from the operating system"}
    if is_postgresql_unavailable(exc):  # the most specific psycopg2 class first
        bases = [cls.__name__ for cls in type(exc).__mro__]
        hints = {"LockNotAvailable": f"another process holds the write lock (waited {timeout_ms / 1000:g} s, "
                                     f"{BUSY_TIMEOUT_ENV} sets the wait)",
                 "TransactionRollbackError": "a deadlock or serialization failure: retry",
                 "InterfaceError": "the connection to the PostgreSQL server is closed",
                 "OperationalError": "the PostgreSQL server cannot be reached or closed the connection"}
        name = next((b for b in bases if b in hints), name)
    hint = next((text for code, text in hints.items() if name.startswith(code)), "not a sign of corruption")
    text = str(exc).strip().replace("\n", " ")
    return DatabaseUnavailable(f"{path}: {doing} failed: {name}: {text} ({hint}); the database was not changed")
