"""Where the portfolio database is (a SQLite file or a PostgreSQL database) and one connection type for both.

**Which backend.** The first of these that is set decides:

1. a PostgreSQL DSN for the run: the run's ``database_dsn`` (``dag_run.conf``, the ``portfolio.database_dsn``
   Variable) or ``PORTFOLIO_DB_DSN``;
2. ``database.backend`` of ``config/pipeline.yml`` (``sqlite``, the default, or ``postgresql`` with
   ``database.dsn``).

SQLite uses the run's ``database_path``, else ``PORTFOLIO_DB_PATH``, else ``database.path``. A DSN is shown and
logged only through :func:`foundation.dsn.redact_dsn` (its password masked), and its password is registered
with the redactor.

**One SQL.** The domain writes its SQL once, with ``?`` placeholders, in the dialect both databases share
(``INSERT ... ON CONFLICT ... DO UPDATE/NOTHING``, ``RETURNING``, ``CASE`` instead of summed booleans, aliased
subqueries). :class:`PgConnection` gives psycopg2 the shape of an autocommit :class:`sqlite3.Connection`
(``execute``/``executemany`` returning a cursor, rows readable by position and by column name) and turns the
``?`` placeholders into psycopg2's ``%s``. NUMERIC results (``AVG`` or ``SUM`` of integers) come back as
``float`` as they do from SQLite.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Protocol, Self

from foundation import paths
from foundation.dsn import dsn_password, redact_dsn

SQLITE: Final = "sqlite"
POSTGRESQL: Final = "postgresql"
Backend = Literal["sqlite", "postgresql"]
PATH_ENV = "PORTFOLIO_DB_PATH"
DSN_ENV = "PORTFOLIO_DB_DSN"
CONNECT_TIMEOUT_S = 10
# ``pg_advisory_xact_lock`` key of the database-wide write lock (the counterpart of SQLite's BEGIN IMMEDIATE)
WRITE_LOCK_KEY = zlib.crc32(b"portfolio_maximizer.write")


class Cursor(Protocol):
    """What the domain uses of a cursor (``sqlite3.Cursor`` and psycopg2's both qualify)."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the domain uses of a connection: an autocommit ``sqlite3.Connection`` or a :class:`PgConnection`."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> Any: ...

    def close(self) -> None: ...

    @property
    def in_transaction(self) -> bool: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None, /) -> bool | None: ...


@dataclass(frozen=True)
class DatabaseTarget:
    """One resolved database: the backend and its file (SQLite) or connection string (PostgreSQL)."""

    backend: Backend
    path: Path | None = None
    dsn: str | None = field(default=None, repr=False)

    @property
    def location(self) -> str:
        """What to show for this database: the file, or the DSN with its password masked."""
        return redact_dsn(self.dsn) if self.dsn is not None else str(self.path)

    @property
    def key(self) -> str:
        """Identity of the database within a process (the resolved file or the full DSN)."""
        return self.dsn if self.dsn is not None else str(Path(str(self.path)).resolve())


def postgresql(dsn: str) -> DatabaseTarget:
    """A PostgreSQL target; the DSN's password is registered with the redactor."""
    from foundation.redaction import register_secret

    register_secret(dsn_password(dsn))
    return DatabaseTarget(POSTGRESQL, dsn=dsn.strip())


def resolve_target(path: Path | str | None = None, dsn: str | None = None) -> DatabaseTarget:
    """The database to use: an explicit ``dsn`` or ``path`` first, else the run's, environment's or config's."""
    from portfolio.run_scope import current
    from portfolio.settings import load_settings

    if dsn:
        return postgresql(dsn)
    if path:
        return DatabaseTarget(SQLITE, path=Path(path))
    inputs = current()
    given_dsn = (inputs.database_dsn if inputs else None) or os.environ.get(DSN_ENV)
    if given_dsn and given_dsn.strip():
        return postgresql(given_dsn)
    cfg = load_settings().database
    if cfg.backend == POSTGRESQL:
        if not cfg.dsn:
            from foundation.config_loader import ConfigError

            raise ConfigError("pipeline", "database.dsn", cfg.dsn,
                              f"database.backend is postgresql: set database.dsn or {DSN_ENV}")
        return postgresql(cfg.dsn)
    return DatabaseTarget(SQLITE, path=default_db_path())


def default_db_path() -> Path:
    """The SQLite file: the run's ``database_path`` (:mod:`portfolio.run_scope`), else ``PORTFOLIO_DB_PATH``,
    else ``database.path`` (whichever backend is selected)."""
    from portfolio.run_scope import current
    from portfolio.settings import load_settings

    inputs = current()
    given = (inputs.database_path if inputs else None) or os.environ.get(PATH_ENV)
    return paths.resolve(given or load_settings().database.path)


# -- PostgreSQL --------------------------------------------------------------------------------------------------
@lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """``sql`` with its ``?`` placeholders as ``%s`` and literal ``%`` doubled (quoted text is left alone)."""
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)


class PgConnection:
    """A psycopg2 connection in autocommit mode, used like an autocommit ``sqlite3.Connection``."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        """Run one statement (``?`` placeholders); return the cursor."""
        cur = self.raw.cursor()
        cur.execute(to_pyformat(sql), tuple(parameters))
        return cur

    def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]], /) -> Any:
        """Run one statement per parameter row, in pages (one round trip per page, not per row)."""
        from psycopg2.extras import execute_batch

        cur = self.raw.cursor()
        execute_batch(cur, to_pyformat(sql), [tuple(p) for p in seq_of_parameters], page_size=500)
        return cur

    def executescript(self, script: str) -> None:
        """Run several statements without parameters (DDL of a migration)."""
        with self.raw.cursor() as cur:
            cur.execute(script)

    def begin_write(self, lock_timeout_ms: int) -> None:
        """Open a transaction holding the database-wide write lock (waits at most ``lock_timeout_ms``)."""
        self.execute("BEGIN")
        self.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        self.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK_KEY,))

    @property
    def in_transaction(self) -> bool:
        from psycopg2.extensions import TRANSACTION_STATUS_IDLE

        return not self.raw.closed and bool(self.raw.info.transaction_status != TRANSACTION_STATUS_IDLE)

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None, /) -> bool | None:
        if self.in_transaction:
            self.execute("ROLLBACK" if exc_type else "COMMIT")
        self.close()
        return None


@lru_cache(maxsize=1)
def _numeric_as_float() -> Any:
    from psycopg2.extensions import new_type

    return new_type((1700,), "PMX_NUMERIC_AS_FLOAT", lambda value, _cur: None if value is None else float(value))


def connect_postgresql(dsn: str) -> PgConnection:
    """A new autocommit :class:`PgConnection` to ``dsn`` (rows readable by position and by column name)."""
    import psycopg2
    from psycopg2.extensions import parse_dsn, register_type
    from psycopg2.extras import DictCursor

    options: dict[str, Any] = {"cursor_factory": DictCursor}
    given = parse_dsn(dsn)
    if "connect_timeout" not in given:
        options["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in given:
        options["application_name"] = "portfolio_maximizer"
    raw = psycopg2.connect(dsn, **options)
    raw.autocommit = True
    register_type(_numeric_as_float(), raw)
    return PgConnection(raw)


def driver_errors() -> tuple[type[Exception], ...]:
    """The exception bases of both database drivers (for code that reports and carries on)."""
    import sqlite3

    try:
        import psycopg2
    except ImportError:  # pragma: no cover - psycopg2 is a locked dependency
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg2.Error)
