"""Where the alert outbox lives (a SQLite file or a PostgreSQL database), its schema, and how a connection to it
is opened.

Only :class:`alerts.outbox.Outbox` uses this module: every statement on the outbox lives in that repository.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from foundation.pg_session import PgConnection, pooled
from foundation.sql_store import POSTGRESQL_DIALECT, SqlConnection, StoreLocation, create_schema, resolve_location

DEFAULT_PATH = "data/alerts/outbox.sqlite"
PATH_ENV, DSN_ENV = "PMX_ALERTS_OUTBOX", "PMX_ALERTS_OUTBOX_DSN"
BUSY_TIMEOUT_S = 30.0
STORE_NAME = "pmx-alerts-outbox"

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    dedup_key       TEXT NOT NULL,
    severity        TEXT NOT NULL,
    summary         TEXT NOT NULL,
    dag_id          TEXT,
    run_id          TEXT,
    sla             TEXT,
    deadline_at     TEXT,               -- ISO-8601 UTC deadline of an SLA miss
    payload         TEXT NOT NULL,      -- Incident.to_json()
    created_at      TEXT NOT NULL,      -- when the incident happened (ISO-8601)
    submitted_at    REAL NOT NULL,      -- unix time it reached the outbox
    routed_at       REAL,               -- unix time the worker planned its deliveries
    acknowledged_at REAL,
    acknowledged_by TEXT,
    resolved_at     REAL,
    late_seconds    REAL,               -- SLA miss: run end minus deadline, set on recovery
    run_state       TEXT,               -- SLA miss: last run state seen by the worker
    UNIQUE (kind, dedup_key)
);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (kind, resolved_at);
CREATE INDEX IF NOT EXISTS incidents_unrouted ON incidents (routed_at);
CREATE TABLE IF NOT EXISTS deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id     INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    channel         TEXT NOT NULL,      -- a channel name of config/alerting.yml
    action          TEXT NOT NULL,      -- trigger | resolve | acknowledge | notify
    status          TEXT NOT NULL,      -- pending | sending | delivered | dead_letter | not_configured
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    depends_on      INTEGER REFERENCES deliveries (id),
    lease_owner     TEXT,
    lease_until     REAL,
    sending_since   REAL,
    in_doubt        INTEGER NOT NULL DEFAULT 0,   -- a worker died mid-send: reconcile before resending
    last_error      TEXT,
    created_at      REAL NOT NULL,
    delivered_at    REAL,
    UNIQUE (incident_id, channel, action)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS stack_heartbeat (      -- "last seen alive" of the stack (the outbox worker beats)
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    first_seen      REAL NOT NULL,      -- unix time of the first beat ever: the install
    last_seen       REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stack_outages (        -- gaps between beats longer than worker.outage_after_seconds
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    down_from       REAL NOT NULL,      -- the last beat before the gap
    down_until      REAL NOT NULL       -- the first beat after it
);
"""

_ready: set[str] = set()
_ready_lock = threading.Lock()


def outbox_location() -> StoreLocation:
    """``PMX_ALERTS_OUTBOX_DSN`` (PostgreSQL), ``PMX_ALERTS_OUTBOX`` (SQLite file) or ``outbox`` of
    ``config/alerting.yml``; an unreadable config falls back to the default SQLite file."""
    try:
        from alerts.alerting_config import load_alerting

        cfg = load_alerting().outbox
        backend, path, dsn = cfg.backend, cfg.path, cfg.dsn
    except Exception:
        backend, path, dsn = "sqlite", DEFAULT_PATH, None
    return resolve_location(backend, path, dsn, dsn_env=DSN_ENV, path_env=PATH_ENV)


def open_connection(path: Path) -> sqlite3.Connection:
    """A new autocommit connection with the outbox's pragmas (rows as :class:`sqlite3.Row`)."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")  # an acknowledged incident survives power loss
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def ensure_schema(path: Path) -> None:
    """Create the outbox file and its tables once per process (idempotent: ``CREATE ... IF NOT EXISTS``)."""
    key = str(path)
    if key in _ready:
        return
    with _ready_lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = open_connection(path)
        try:
            conn.executescript(SCHEMA)
        finally:
            conn.close()
        _ready.add(key)


@contextmanager
def store_connection(location: StoreLocation) -> Iterator[SqlConnection]:
    """An autocommit connection to the outbox at ``location`` for the block, its tables created on first use
    (SQLite: a new connection, closed after; PostgreSQL: one of the process's pooled sessions)."""
    if location.path is not None:
        ensure_schema(location.path)
        conn = open_connection(location.path)
        try:
            yield conn
        finally:
            conn.close()
        return

    def prepare(conn: PgConnection) -> None:
        if location.key not in _ready:
            create_schema(conn, POSTGRESQL_DIALECT, SCHEMA, STORE_NAME)
            _ready.add(location.key)

    with pooled(location, application=STORE_NAME, lock_timeout_s=BUSY_TIMEOUT_S, prepare=prepare) as pg:
        yield pg
