"""The durable alert outbox: incidents and their per-channel deliveries in one SQLite file (WAL).

:func:`alerts.router.submit` writes an incident here before anything is sent; the outbox worker plans one
delivery per channel, claims it with a lease, sends it and records the outcome. ``UNIQUE(kind, dedup_key)``
makes submission idempotent and ``UNIQUE(incident_id, channel)`` makes a channel receive an incident once.
The file lives at ``PMX_ALERTS_OUTBOX`` or ``outbox.path`` of ``config/alerting.yml`` (under ``PMX_HOME``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alerts.incident import Incident
from foundation import paths

DEFAULT_PATH = "data/alerts/outbox.sqlite"
BUSY_TIMEOUT_S = 30.0
PENDING, SENDING, DELIVERED, DEAD_LETTER = "pending", "sending", "delivered", "dead_letter"
NOT_CONFIGURED = "not_configured"  # the channel has no credentials here: nothing was sent, nothing failed
FINISHED_STATUSES = (DELIVERED, DEAD_LETTER, NOT_CONFIGURED)

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


def outbox_path() -> Path:
    """``PMX_ALERTS_OUTBOX`` or ``outbox.path`` of ``config/alerting.yml``, resolved under ``PMX_HOME``."""
    env = os.environ.get("PMX_ALERTS_OUTBOX")
    if env:
        return paths.resolve(env)
    try:
        from alerts.alerting_config import load_alerting

        return paths.resolve(load_alerting().outbox.path)
    except Exception:
        return paths.resolve(DEFAULT_PATH)


class Outbox:
    """Connections to one outbox file; every method opens a short transaction of its own."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else outbox_path()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode (use :meth:`transaction` for atomic writes)."""
        key = str(self.path)
        if key not in _ready:
            with _ready_lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = self._open()
                try:
                    conn.executescript(SCHEMA)
                finally:
                    conn.close()
                _ready.add(key)
        conn = self._open()
        try:
            yield conn
        finally:
            conn.close()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # an acknowledged incident survives power loss
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rollback on error)."""
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- incidents -----------------------------------------------------------------------------------------
    def add_incident(self, incident: Incident) -> tuple[int, bool]:
        """Store ``incident`` once; return ``(id, created)`` (``created`` is False for a re-submission)."""
        details = incident.details or {}
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO incidents (kind, dedup_key, severity, summary, dag_id, run_id, sla,"
                " deadline_at, payload, created_at, submitted_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    incident.kind,
                    incident.dedup_key,
                    incident.severity,
                    incident.summary,
                    incident.dag_id,
                    incident.run_id,
                    details.get("sla"),
                    details.get("deadline"),
                    incident.to_json(),
                    incident.created_at.isoformat(),
                    time.time(),
                ),
            )
            created = cur.rowcount == 1
            row = conn.execute(
                "SELECT id FROM incidents WHERE kind = ? AND dedup_key = ?",
                (incident.kind, incident.dedup_key),
            ).fetchone()
        return int(row["id"]), created

    def incident(self, incident_id: int) -> dict[str, Any] | None:
        """One incident row as a dict."""
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return dict(row) if row else None

    def find(self, kind: str, dedup_key: str) -> dict[str, Any] | None:
        """The incident with this kind and dedup key, if any."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT * FROM incidents WHERE kind = ? AND dedup_key = ?", (kind, dedup_key)
            ).fetchone()
        return dict(row) if row else None

    def deliveries(self, incident_id: int | None = None) -> list[dict[str, Any]]:
        """Delivery rows (of one incident, or all), oldest first."""
        with self.connect() as conn:
            if incident_id is None:
                rows = conn.execute("SELECT * FROM deliveries ORDER BY id").fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM deliveries WHERE incident_id = ? ORDER BY id", (incident_id,)
                ).fetchall()
        return [dict(r) for r in rows]

    def resolve_miss(self, miss_id: int, recovery: Incident, late_seconds: float) -> int | None:
        """Mark an SLA miss resolved and store its recovery atomically; the recovery id (None if done)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE incidents SET resolved_at = ?, late_seconds = ?, run_state = 'success' "
                "WHERE id = ? AND resolved_at IS NULL",
                (time.time(), late_seconds, miss_id),
            )
            if cur.rowcount != 1:
                return None
            conn.execute(
                "INSERT OR IGNORE INTO incidents (kind, dedup_key, severity, summary, dag_id, run_id, sla, "
                "deadline_at,"
                " payload, created_at, submitted_at, late_seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    recovery.kind,
                    recovery.dedup_key,
                    recovery.severity,
                    recovery.summary,
                    recovery.dag_id,
                    recovery.run_id,
                    recovery.details.get("sla"),
                    recovery.details.get("deadline"),
                    recovery.to_json(),
                    recovery.created_at.isoformat(),
                    time.time(),
                    late_seconds,
                ),
            )
            row = conn.execute(
                "SELECT id FROM incidents WHERE kind = ? AND dedup_key = ?",
                (recovery.kind, recovery.dedup_key),
            ).fetchone()
        return int(row["id"])

    def set_run_state(self, incident_id: int, state: str | None) -> None:
        """Remember the last run state seen for an open SLA miss."""
        with self.transaction() as conn:
            conn.execute("UPDATE incidents SET run_state = ? WHERE id = ?", (state, incident_id))

    def acknowledge(self, incident_id: int, who: str) -> bool:
        """Mark an incident acknowledged (first acknowledgement wins); False when unknown or already done."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE incidents SET acknowledged_at = ?, acknowledged_by = ? "
                "WHERE id = ? AND acknowledged_at IS NULL",
                (time.time(), who, incident_id),
            )
        return cur.rowcount == 1

    # -- liveness ------------------------------------------------------------------------------------------
    def beat(self, now: float | None = None, outage_after: float = 120.0) -> tuple[float, float] | None:
        """Record that the stack is alive; return ``(down_from, down_until)`` when this beat ends an outage."""
        now = time.time() if now is None else now
        with self.transaction() as conn:
            row = conn.execute("SELECT last_seen FROM stack_heartbeat WHERE id = 1").fetchone()
            if row is None:
                conn.execute("INSERT INTO stack_heartbeat (id, first_seen, last_seen) VALUES (1, ?, ?)", (now, now))
                return None
            outage = (float(row["last_seen"]), now) if now - float(row["last_seen"]) > outage_after else None
            if outage:
                conn.execute("INSERT INTO stack_outages (down_from, down_until) VALUES (?, ?)", outage)
            conn.execute("UPDATE stack_heartbeat SET last_seen = MAX(last_seen, ?) WHERE id = 1", (now,))
        return outage

    def liveness(self) -> dict[str, Any]:
        """``first_seen`` / ``last_seen`` (None before the first beat) and the recorded outages, oldest first."""
        with self.connect() as conn:
            row = conn.execute("SELECT first_seen, last_seen FROM stack_heartbeat WHERE id = 1").fetchone()
            outages = conn.execute("SELECT down_from, down_until FROM stack_outages ORDER BY down_from").fetchall()
        return {"first_seen": row["first_seen"] if row else None, "last_seen": row["last_seen"] if row else None,
                "outages": [(float(o["down_from"]), float(o["down_until"])) for o in outages]}

    def stats(self, now: float | None = None) -> dict[str, float]:
        """Undelivered deliveries (pending + sending), dead letters and the age of the oldest undelivered."""
        now = now or time.time()
        with self.connect() as conn:
            row = conn.execute(
                "SELECT SUM(status IN ('pending','sending')) AS depth, SUM(status = 'dead_letter') AS dead,"
                " MIN(CASE WHEN status IN ('pending','sending') THEN created_at END) AS oldest"
                " FROM deliveries"
            ).fetchone()
            unrouted = conn.execute(
                "SELECT COUNT(*), MIN(submitted_at) FROM incidents WHERE routed_at IS NULL"
            ).fetchone()
        oldest = min([t for t in (row["oldest"], unrouted[1]) if t is not None], default=None)
        return {
            "depth": float((row["depth"] or 0) + unrouted[0]),
            "dead_letters": float(row["dead"] or 0),
            "oldest_age": max(0.0, now - oldest) if oldest is not None else 0.0,
        }
