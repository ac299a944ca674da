"""A throw-away PostgreSQL database on the machine's server (127.0.0.1:5432, user ``postgres``, trust auth), for
stacks that must not touch anything else; used by the integration tests and the benchmarks. (Their Celery broker is
a private ``redis-server``: :mod:`local_stack.redis_server`.)
"""

from __future__ import annotations

import uuid
from typing import Any

POSTGRES_DSN = "host=127.0.0.1 port=5432 user=postgres connect_timeout=5"


def postgres_admin() -> Any:
    """An autocommit connection to the server's ``postgres`` database (CREATE/DROP DATABASE refuse a
    transaction); raises ``psycopg2.OperationalError`` when the server is not reachable."""
    import psycopg2

    conn = psycopg2.connect(f"{POSTGRES_DSN} dbname=postgres")
    conn.autocommit = True
    return conn


def create_postgres_database(prefix: str) -> str:
    """Create an empty database ``<prefix>_<random>``; return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    return name


def drop_postgres_database(name: str) -> None:
    """Drop database ``name`` (and end the connections still open to it)."""
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(statement: str) -> None:
    conn = postgres_admin()
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()
