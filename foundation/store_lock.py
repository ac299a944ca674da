"""The lock that makes one process the owner of a store: ``flock`` on a file next to a SQLite store (one
machine), a PostgreSQL advisory lock on a session of its own for a PostgreSQL store (every host)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Protocol

from foundation.pg_session import PgConnection, connect_postgresql
from foundation.sql_store import StoreLocation, lock_key


class OwnerLock(Protocol):
    """An exclusive lock on a store held until released (or the process ends)."""

    def try_acquire(self) -> bool:
        """Take the lock if free; False when another process holds it."""

    def release(self) -> None:
        """Let the lock go."""


class FileLock:
    """``flock`` on a file next to a SQLite store: one owner per machine, as the file is."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if free; False when another process holds it."""
        import fcntl

        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        """Close the file (and with it the lock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class PgSessionLock:
    """A PostgreSQL advisory lock held by a connection of its own: one owner across every host."""

    def __init__(self, location: StoreLocation, name: str) -> None:
        self.location, self.name = location, name
        self._conn: PgConnection | None = None

    def try_acquire(self) -> bool:
        """Take the lock if free; False when another session holds it."""
        if self._conn is None:
            self._conn = connect_postgresql(self.location, application=self.name, lock_timeout_s=5.0)
        return bool(self._conn.execute("SELECT pg_try_advisory_lock(?)", (lock_key(self.name),)).fetchone()[0])

    def release(self) -> None:
        """Unlock now (the server ends a closed session a moment later), then end the session."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute("SELECT pg_advisory_unlock(?)", (lock_key(self.name),))
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def owner_lock(location: StoreLocation, name: str) -> OwnerLock:
    """The lock that makes one process the owner of ``location`` (``<file>.worker.lock`` next to SQLite)."""
    if location.path is not None:
        return FileLock(location.path.with_name(location.path.name + ".worker.lock"))
    return PgSessionLock(location, name)
