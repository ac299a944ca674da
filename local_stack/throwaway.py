"""Throw-away backing services on the machine's own servers, for stacks that must not touch anything else: a
PostgreSQL database (127.0.0.1:5432, user ``postgres``, trust auth) and an empty Redis database index
(127.0.0.1:6379, indexes 1-15, claimed; 0 is left alone). Used by the integration tests and the benchmarks.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

POSTGRES_DSN = "host=127.0.0.1 port=5432 user=postgres connect_timeout=5"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
CLAIM_KEY = "pmx:claimed"  # set in a Redis database index taken by empty_redis_db()


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


def empty_redis_db() -> tuple[Any, int] | None:
    """A client on an empty Redis database index, claimed for the caller, and that index; ``None`` when every
    index 1-15 holds keys. Raises ``redis.RedisError`` when the server is not reachable. Flush it when done.

    An index is claimed with a key set only if absent (:data:`CLAIM_KEY`), so two stacks starting at once never
    share a broker (each would run the other's tasks); the key makes the index non-empty for everyone else.
    Lowest index first: a user that only checks for an empty index and writes its first key later typically
    takes the highest.
    """
    import redis

    redis.Redis(REDIS_HOST, REDIS_PORT, socket_timeout=5).ping()
    for index in range(1, 16):
        client = redis.Redis(REDIS_HOST, REDIS_PORT, db=index, socket_timeout=5)
        if client.dbsize() == 0 and client.set(CLAIM_KEY, f"pid {os.getpid()}", nx=True):
            return client, index
    return None
