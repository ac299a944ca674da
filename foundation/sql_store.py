"""Where a small SQL store of the add-on lives (a SQLite file or a PostgreSQL database) and the few things that
differ between the two.

The alert outbox and the error monitor's threshold state are each one store. A store is SQLite by default (one
file under ``PMX_HOME``, shared by the processes of one machine); with ``backend: postgresql`` and a ``dsn`` it is
a PostgreSQL database, shared by every host of a multi-host deployment. Both backends run the same statements:
``?`` placeholders, ``INSERT ... ON CONFLICT``, unix times passed in from Python. What differs is in
:class:`Dialect`: how a write transaction begins, row locks (``FOR UPDATE [SKIP LOCKED]``), the lock that
serializes a store's writers, and the column types of the schema.

A DSN is shown (events, errors, ``describe()``) with its password masked. PostgreSQL connections are in
:mod:`foundation.pg_session`, the lock that makes one process a store's owner in :mod:`foundation.store_lock`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, Field, ValidationInfo

from foundation import paths
from foundation.config_loader import ConfigError
from foundation.dsn import redact_dsn

Backend = Literal["sqlite", "postgresql"]
SQLITE: Literal["sqlite"] = "sqlite"
POSTGRESQL: Literal["postgresql"] = "postgresql"


class SqlConnection(Protocol):
    """What the stores use of a connection: ``sqlite3.Connection`` and :class:`PgConnection` both have it."""

    def execute(self, sql: str, params: Any = (), /) -> Any: ...

    def close(self) -> None: ...


def check_dsn(value: str, file: Path | str, key: str) -> str:
    """``value`` if it is a PostgreSQL DSN (URL or ``key=value`` form); else a :class:`ConfigError`."""
    from psycopg2.extensions import parse_dsn

    if "://" in value and not value.startswith(("postgresql://", "postgres://")):
        raise ConfigError(file, key, value, "a PostgreSQL DSN starts with postgresql:// (or is key=value pairs)")
    try:
        parse_dsn(value)
    except Exception as exc:
        raise ConfigError(file, key, value, f"not a PostgreSQL DSN: {str(exc).strip()}") from None
    return value


def _dsn_for_backend(value: str | None, info: ValidationInfo) -> str | None:
    if info.data.get("backend") == POSTGRESQL and not value:
        raise ValueError("backend postgresql needs `dsn` (e.g. postgresql://pmx@db.example:5432/pmx_state)")
    if value:
        try:
            check_dsn(value, "", "dsn")
        except ConfigError as exc:
            raise ValueError(exc.problem) from None
    return value


# The ``dsn`` key of a store's config section; declare it after ``backend``, whose value it is checked against.
Dsn = Annotated[str | None, AfterValidator(_dsn_for_backend), Field(validate_default=True)]


@dataclass(frozen=True)
class StoreLocation:
    """One store: a SQLite ``path`` or a PostgreSQL ``dsn`` (its ``repr`` masks the password too)."""

    backend: Backend
    path: Path | None = None
    dsn: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"StoreLocation({self.backend}: {self.describe()})"

    @classmethod
    def sqlite(cls, path: Path | str) -> StoreLocation:
        return cls(SQLITE, path=Path(path))

    @classmethod
    def postgresql(cls, dsn: str) -> StoreLocation:
        return cls(POSTGRESQL, dsn=dsn)

    @property
    def is_postgresql(self) -> bool:
        return self.backend == POSTGRESQL

    @property
    def key(self) -> str:
        """Identity of the store in this process (caches of "schema created")."""
        return str(self.dsn if self.is_postgresql else self.path)

    def describe(self) -> str:
        """The file path, or the DSN with its password masked: safe to log."""
        return redact_dsn(self.dsn or "") if self.is_postgresql else str(self.path)


def resolve_location(backend: str, path: str, dsn: str | None, *, dsn_env: str,
                     path_env: str | None = None) -> StoreLocation:
    """The store a process uses: ``dsn_env`` (PostgreSQL) wins, then ``path_env`` (SQLite), then the config."""
    env_dsn = os.environ.get(dsn_env, "").strip()
    if env_dsn:
        return StoreLocation.postgresql(check_dsn(env_dsn, dsn_env, dsn_env))
    env_path = os.environ.get(path_env, "").strip() if path_env else ""
    if env_path:
        return StoreLocation.sqlite(paths.resolve(env_path))
    if backend == POSTGRESQL and dsn:
        return StoreLocation.postgresql(dsn)
    return StoreLocation.sqlite(paths.resolve(path))


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@dataclass(frozen=True)
class Dialect:
    """What differs between the backends for the same statements."""

    name: str
    begin: str  # the statement that opens a write transaction

    def for_update(self, of: str | None = None, *, skip_locked: bool = False) -> str:
        """The row-lock clause ending a ``SELECT`` (SQLite: none, its write transaction already excludes others)."""
        if self.name == SQLITE:
            return ""
        return " FOR UPDATE" + (f" OF {of}" if of else "") + (" SKIP LOCKED" if skip_locked else "")

    def serialize(self, conn: SqlConnection, name: str) -> None:
        """Make this transaction the store's only writer under ``name`` until it ends (SQLite: already is)."""
        if self.name == POSTGRESQL:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(name),))

    def schema(self, ddl: str) -> str:
        """The store's SQLite DDL in this dialect (PostgreSQL: identity keys, double-precision times)."""
        if self.name == SQLITE:
            return ddl
        ddl = ddl.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        return re.sub(r"\bREAL\b", "DOUBLE PRECISION", ddl)


SQLITE_DIALECT = Dialect(SQLITE, "BEGIN IMMEDIATE")
POSTGRESQL_DIALECT = Dialect(POSTGRESQL, "BEGIN")


def dialect_of(location: StoreLocation) -> Dialect:
    """The dialect of ``location``'s backend."""
    return POSTGRESQL_DIALECT if location.is_postgresql else SQLITE_DIALECT


@contextlib.contextmanager
def write_transaction(conn: SqlConnection, dialect: Dialect) -> Iterator[SqlConnection]:
    """``BEGIN`` ... ``COMMIT``; on error ``ROLLBACK`` (a failing rollback never hides the error)."""
    conn.execute(dialect.begin)
    try:
        yield conn
    except BaseException:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def create_schema(conn: SqlConnection, dialect: Dialect, ddl: str, name: str) -> None:
    """Run the store's ``CREATE ... IF NOT EXISTS`` DDL (PostgreSQL: one process at a time)."""
    if dialect.name == SQLITE:
        conn.executescript(ddl)  # type: ignore[attr-defined]
        return
    with write_transaction(conn, dialect):
        dialect.serialize(conn, f"{name}/schema")
        conn.execute(dialect.schema(ddl))
