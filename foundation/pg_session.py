"""PostgreSQL sessions of the add-on's stores: psycopg2 connections that run the stores' ``?``-style statements,
and a small per-process pool so that a busy process (the outbox worker) does not open a connection per statement.

Connections never cross a ``fork()``: a child drops what it inherited without ending the parent's sessions.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from foundation.sql_store import StoreLocation

CONNECT_TIMEOUT_S = 10
POOL_SIZE = 8  # idle connections kept per store and process


class PgConnection:
    """A psycopg2 connection in autocommit mode that runs the stores' ``?``-style statements.

    Rows support ``row["column"]``, ``row[0]``, ``dict(row)`` and unpacking, as ``sqlite3.Row`` does.
    """

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Any:
        from psycopg2.extras import DictCursor

        cur = self.raw.cursor(cursor_factory=DictCursor)
        if params:
            cur.execute(sql.replace("%", "%%").replace("?", "%s"), tuple(params))
        else:
            cur.execute(sql)
        return cur

    @property
    def closed(self) -> bool:
        return bool(self.raw.closed)

    def close(self) -> None:
        self.raw.close()

    def usable(self) -> bool:
        """Open, outside a transaction, and the server still answers (one round trip)."""
        from psycopg2.extensions import TRANSACTION_STATUS_IDLE

        if self.raw.closed or self.raw.info.transaction_status != TRANSACTION_STATUS_IDLE:
            return False
        try:
            self.execute("SELECT 1")
        except Exception:
            return False
        return True

    def disown(self) -> None:
        """Drop a connection inherited through ``fork()`` without ending the parent's session.

        Closing it would send the server a goodbye on the socket the parent still uses; pointing this
        process's descriptor at ``/dev/null`` first makes the goodbye go nowhere.
        """
        with contextlib.suppress(Exception):
            null = os.open(os.devnull, os.O_RDWR)
            try:
                os.dup2(null, self.raw.fileno())
            finally:
                os.close(null)
            self.raw.close()


def connect_postgresql(location: StoreLocation, *, application: str, lock_timeout_s: float) -> PgConnection:
    """A new autocommit connection; lock waits end after ``lock_timeout_s`` (like SQLite's busy timeout)."""
    import psycopg2
    from psycopg2.extensions import parse_dsn

    dsn = location.dsn or ""
    extra: dict[str, Any] = {"application_name": application}
    if "connect_timeout" not in parse_dsn(dsn):
        extra["connect_timeout"] = CONNECT_TIMEOUT_S  # an unreachable server fails, never hangs the observer
    raw = psycopg2.connect(dsn, **extra)
    raw.autocommit = True
    conn = PgConnection(raw)
    conn.execute(f"SET lock_timeout = {max(1, int(lock_timeout_s * 1000))}")
    return conn


_idle: dict[str, list[PgConnection]] = {}
_idle_lock = threading.Lock()


def _drop_inherited() -> None:
    for conns in _idle.values():
        for conn in conns:
            conn.disown()
    _idle.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited)


@contextlib.contextmanager
def pooled(location: StoreLocation, *, application: str, lock_timeout_s: float,
           prepare: Callable[[PgConnection], None]) -> Iterator[PgConnection]:
    """A connection to ``location`` for the block, taken from and given back to the process's pool.

    ``prepare`` runs once on each new connection (e.g. the schema); a connection that failed in the block, or
    no longer answers, is closed instead of reused.
    """
    conn = None
    with _idle_lock:
        idle = _idle.setdefault(location.key, [])
        conn = idle.pop() if idle else None
    while conn is not None and not conn.usable():
        with contextlib.suppress(Exception):
            conn.close()
        with _idle_lock:
            conn = idle.pop() if idle else None
    if conn is None:
        conn = connect_postgresql(location, application=application, lock_timeout_s=lock_timeout_s)
        try:
            prepare(conn)
        except BaseException:
            conn.close()
            raise
    try:
        yield conn
    except BaseException:
        with contextlib.suppress(Exception):
            conn.close()
        raise
    with _idle_lock:
        if len(idle) < POOL_SIZE and not conn.closed:
            idle.append(conn)
            return
    conn.close()
