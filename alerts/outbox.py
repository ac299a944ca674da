"""The durable alert outbox: incidents and their per-channel deliveries in one SQLite file (WAL) or one
PostgreSQL database.

:func:`alerts.router.submit` writes an incident here before anything is sent; the outbox worker plans one
delivery per channel, claims it with a lease, sends it and records the outcome. ``UNIQUE(kind, dedup_key)``
makes submission idempotent and ``UNIQUE(incident_id, channel)`` makes a channel receive an incident once.
The file lives at ``PMX_ALERTS_OUTBOX`` or ``outbox.path`` of ``config/alerting.yml`` (under ``PMX_HOME``);
with ``outbox.backend: postgresql`` (or ``PMX_ALERTS_OUTBOX_DSN``) the tables live in the database of the DSN.
Both backends run the same statements (:mod:`foundation.sql_store` holds what differs).

:class:`Outbox` is the one repository of the outbox: every SQL statement on it is one of its named methods
(the schema and the connection settings are in :mod:`alerts.outbox_schema`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerts.incident import RESOLVES, SUPERSEDES, Incident
from alerts.outbox_schema import STORE_NAME, outbox_location, store_connection
from foundation.sql_store import SqlConnection, StoreLocation, dialect_of, write_transaction
from foundation.store_lock import OwnerLock, owner_lock

PENDING, SENDING, DELIVERED, DEAD_LETTER = "pending", "sending", "delivered", "dead_letter"
NOT_CONFIGURED = "not_configured"  # the channel has no credentials here: nothing was sent, nothing failed
FINISHED_STATUSES = (DELIVERED, DEAD_LETTER, NOT_CONFIGURED)

Target = tuple[str, str, "int | None"]  # (channel, action, id of the delivery it waits for)


@dataclass(frozen=True)
class Claim:
    """One delivery this worker is sending now."""

    delivery_id: int
    incident_id: int
    incident: Incident
    channel: str
    action: str
    attempts: int
    in_doubt: bool
    created_at: float
    submitted_at: float
    previous_sending_since: float | None

    @property
    def delivery_key(self) -> str:
        """Stable identity of this delivery across workers and restarts (used for reconciliation)."""
        return f"{self.incident.kind}|{self.incident.dedup_key}|{self.channel}|{self.action}"


class Outbox:
    """The outbox repository: every method opens a short connection or transaction of its own."""

    def __init__(self, path: Path | str | StoreLocation | None = None) -> None:
        if isinstance(path, StoreLocation):
            self.location = path
        else:
            self.location = StoreLocation.sqlite(path) if path else outbox_location()
        self.path = self.location.path  # the SQLite file; None on PostgreSQL
        self.dialect = dialect_of(self.location)

    def describe(self) -> str:
        """Where this outbox is (a file path, or the DSN without its password): safe to log."""
        return self.location.describe()

    def owner_lock(self) -> OwnerLock:
        """The lock that makes one worker the owner of this outbox (standbys wait for it)."""
        return owner_lock(self.location, f"{STORE_NAME}/worker")

    # -- raw access (tests and maintenance only; the add-on uses the named methods below) --------------------
    @contextmanager
    def connect(self) -> Iterator[SqlConnection]:
        """A connection in autocommit mode (use :meth:`transaction` for atomic writes)."""
        with store_connection(self.location) as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[SqlConnection]:
        """``BEGIN IMMEDIATE`` (SQLite) or ``BEGIN`` (PostgreSQL) ... ``COMMIT`` (rollback on error)."""
        with self.connect() as conn, write_transaction(conn, self.dialect):
            yield conn

    # -- incidents -----------------------------------------------------------------------------------------
    @staticmethod
    def _insert_incident(conn: SqlConnection, incident: Incident, late_seconds: float | None = None) -> int:
        """Insert one incident unless stored (idempotent on kind + dedup key); 1 when it was new."""
        cur = conn.execute(
            "INSERT INTO incidents (kind, dedup_key, severity, summary, dag_id, run_id, sla, deadline_at, payload,"
            " created_at, submitted_at, late_seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (incident.kind, incident.dedup_key, incident.severity, incident.summary, incident.dag_id,
             incident.run_id, incident.sla, incident.deadline, incident.to_json(),
             incident.created_at.isoformat(), time.time(), late_seconds),
        )
        return cur.rowcount

    @staticmethod
    def _incident_id(conn: SqlConnection, kind: str, dedup_key: str) -> int | None:
        row = conn.execute("SELECT id FROM incidents WHERE kind = ? AND dedup_key = ?", (kind, dedup_key)).fetchone()
        return int(row["id"]) if row else None

    def add_incident(self, incident: Incident) -> tuple[int, bool]:
        """Store ``incident`` once; return ``(id, created)`` (``created`` is False for a re-submission)."""
        with self.transaction() as conn:
            created = self._insert_incident(conn, incident) == 1
            incident_id = self._incident_id(conn, incident.kind, incident.dedup_key)
            if created and incident.kind in SUPERSEDES:
                conn.execute("UPDATE incidents SET resolved_at = ? WHERE kind = ? AND dedup_key = ? "
                             "AND resolved_at IS NULL", (time.time(), SUPERSEDES[incident.kind], incident.dedup_key))
        return int(incident_id or 0), created

    def replace_payload(self, incident_id: int, incident: Incident) -> None:
        """Store an enriched copy of a not yet routed incident (same kind and dedup key: e.g. its diagnosis)."""
        with self.transaction() as conn:
            conn.execute("UPDATE incidents SET summary = ?, payload = ? WHERE id = ? AND routed_at IS NULL",
                         (incident.summary, incident.to_json(), incident_id))

    def incident(self, incident_id: int) -> dict[str, Any] | None:
        """One incident row as a dict."""
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return dict(row) if row else None

    def find(self, kind: str, dedup_key: str) -> dict[str, Any] | None:
        """The incident with this kind and dedup key, if any."""
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM incidents WHERE kind = ? AND dedup_key = ?", (kind, dedup_key)).fetchone()
        return dict(row) if row else None

    def deliveries(self, incident_id: int | None = None) -> list[dict[str, Any]]:
        """Delivery rows (of one incident, or all), oldest first."""
        with self.connect() as conn:
            if incident_id is None:
                rows = conn.execute("SELECT * FROM deliveries ORDER BY id").fetchall()
            else:
                rows = conn.execute("SELECT * FROM deliveries WHERE incident_id = ? ORDER BY id",
                                    (incident_id,)).fetchall()
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
            self._insert_incident(conn, recovery, late_seconds)
            return self._incident_id(conn, recovery.kind, recovery.dedup_key)

    def open_incidents(self, kind: str, submitted_after: float = 0.0) -> list[dict[str, Any]]:
        """Unresolved incidents of ``kind`` submitted after ``submitted_after``, oldest first: id, dedup_key, sla,
        dag_id, run_id, payload."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT id, dedup_key, sla, dag_id, run_id, payload FROM incidents WHERE kind = ? "
                "AND resolved_at IS NULL AND submitted_at > ? ORDER BY id", (kind, submitted_after),
            ).fetchall()
        return [dict(r) for r in rows]

    def resolve_incident(self, incident_id: int, resolution: Incident | None = None,
                         late_seconds: float | None = None) -> int | None:
        """Mark an incident resolved and store its ``resolution`` (if any) atomically; the resolution's id.

        None when the incident was already resolved, or when it is closed without a resolution (no message).
        """
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE incidents SET resolved_at = ?, late_seconds = ? WHERE id = ? AND resolved_at IS NULL",
                (time.time(), late_seconds, incident_id),
            )
            if cur.rowcount != 1 or resolution is None:
                return None
            self._insert_incident(conn, resolution, late_seconds)
            return self._incident_id(conn, resolution.kind, resolution.dedup_key)

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

    def open_misses(self, submitted_after: float) -> list[dict[str, Any]]:
        """Unresolved SLA misses submitted after ``submitted_after``: id, payload, dag_id, run_id, run_state."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT id, payload, dag_id, run_id, run_state FROM incidents WHERE kind = 'sla_miss' "
                "AND resolved_at IS NULL AND submitted_at > ?",
                (submitted_after,),
            ).fetchall()
        return [dict(r) for r in rows]

    def open_miss_deadlines(self) -> list[tuple[str, str, str]]:
        """``(dag_id, sla, deadline_at)`` of every unresolved SLA miss that has a deadline."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT dag_id, sla, deadline_at FROM incidents WHERE kind = 'sla_miss' "
                "AND resolved_at IS NULL AND deadline_at IS NOT NULL"
            ).fetchall()
        return [(r["dag_id"], r["sla"], r["deadline_at"]) for r in rows]

    # -- the SLA-misses view -------------------------------------------------------------------------------
    def sla_misses(self, *, dag_id: str | None = None, dag_ids: Sequence[str] | None = None,
                   since: float | None = None, until: float | None = None, limit: int = 200,
                   freshness: bool = False) -> list[dict[str, Any]]:
        """SLA-miss rows, newest first, each with ``recovery_id``, ``deliveries`` and ``recovery_deliveries``.

        ``dag_id`` / ``dag_ids`` filter the run SLAs' misses; ``freshness`` adds the data freshness misses (they
        belong to an asset, not a DAG, so a ``dag_id`` filter leaves them out).
        """
        run_clauses: list[str] = ["m.kind = 'sla_miss'"]
        args: list[Any] = []
        if dag_id:
            run_clauses.append("m.dag_id = ?")
            args.append(dag_id)
        if dag_ids is not None:
            run_clauses.append(f"m.dag_id IN ({', '.join('?' for _ in dag_ids)})" if dag_ids else "1 = 0")
            args.extend(dag_ids)
        kinds = f"({' AND '.join(run_clauses)})"
        if freshness and not dag_id:
            kinds = f"({kinds} OR m.kind = 'freshness_miss')"
        clauses = [kinds]
        if since is not None:
            clauses.append("m.submitted_at >= ?")
            args.append(since)
        if until is not None:
            clauses.append("m.submitted_at <= ?")
            args.append(until)
        sql = (
            "SELECT m.*, r.id AS recovery_id FROM incidents m LEFT JOIN incidents r ON r.kind = CASE m.kind "
            "WHEN 'sla_miss' THEN 'sla_recovered' ELSE 'freshness_recovered' END AND r.dedup_key = m.dedup_key "
            f"WHERE {' AND '.join(clauses)} ORDER BY m.submitted_at DESC LIMIT ?"
        )
        out: list[dict[str, Any]] = []
        with self.connect() as conn:
            for row in conn.execute(sql, [*args, limit]).fetchall():
                item = dict(row)
                item["deliveries"] = self._miss_deliveries(conn, row["id"])
                item["recovery_deliveries"] = self._miss_deliveries(conn, row["recovery_id"])
                out.append(item)
        return out

    @staticmethod
    def _miss_deliveries(conn: SqlConnection, incident_id: int | None) -> list[dict[str, Any]]:
        if incident_id is None:
            return []
        rows = conn.execute(
            "SELECT channel, action, status, attempts, delivered_at, last_error FROM deliveries "
            "WHERE incident_id = ? ORDER BY id", (incident_id,)
        ).fetchall()
        return [dict(r) for r in rows]

    def miss_dag_ids(self) -> list[str]:
        """DAG ids that have at least one SLA miss, sorted."""
        with self.connect() as conn:
            rows = conn.execute("SELECT DISTINCT dag_id FROM incidents WHERE kind = 'sla_miss' "
                                "ORDER BY dag_id").fetchall()
        return [r["dag_id"] for r in rows if r["dag_id"]]

    # -- deliveries ----------------------------------------------------------------------------------------
    def unrouted(self, limit: int) -> list[tuple[int, Incident]]:
        """Incidents whose deliveries are not planned yet, oldest first."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT id, payload FROM incidents WHERE routed_at IS NULL ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [(int(r["id"]), Incident.from_json(r["payload"])) for r in rows]

    def plan_deliveries(self, incident_id: int, incident: Incident,
                        choose: Callable[[list[tuple[int, str]]], list[Target]]) -> list[Target]:
        """Atomically insert the pending deliveries ``choose`` picks and mark the incident routed.

        ``choose`` gets ``(delivery id, channel)`` of every trigger/notify delivery of the incident a resolution
        closes (``RESOLVES``; empty for other kinds, or when that incident was never stored).
        """
        now = time.time()
        with self.transaction() as conn:
            targets = choose(self._closed_deliveries(conn, incident))
            for channel, action, depends_on in targets:
                conn.execute(
                    "INSERT INTO deliveries (incident_id, channel, action, status, next_attempt_at, depends_on, "
                    "created_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                    (incident_id, channel, action, PENDING, now, depends_on, now),
                )
            conn.execute("UPDATE incidents SET routed_at = ? WHERE id = ?", (now, incident_id))
        return targets

    def _closed_deliveries(self, conn: SqlConnection, incident: Incident) -> list[tuple[int, str]]:
        if incident.kind not in RESOLVES:
            return []
        original = self._incident_id(conn, RESOLVES[incident.kind], incident.dedup_key)
        if original is None:
            return []
        rows = conn.execute(
            "SELECT id, channel FROM deliveries WHERE incident_id = ? AND action IN ('trigger', 'notify') ORDER BY id",
            (original,),
        ).fetchall()
        return [(int(r["id"]), str(r["channel"])) for r in rows]

    def take_over_in_doubt(self, owner: str) -> int:
        """Mark ``sending`` rows not leased by ``owner`` as pending, in doubt and due now; return how many."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE deliveries SET status = ?, in_doubt = 1, next_attempt_at = ?, lease_owner = NULL "
                "WHERE status = ? AND (lease_owner IS NULL OR lease_owner != ?)",
                (PENDING, time.time(), SENDING, owner),
            )
        return cur.rowcount

    def release(self, delivery_id: int, owner: str) -> None:
        """Give back a delivery ``owner`` claimed: pending again, in doubt, due in a second."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = ?, in_doubt = 1, next_attempt_at = ?, lease_owner = NULL "
                "WHERE id = ? AND status = ? AND lease_owner = ?",
                (PENDING, time.time() + 1.0, delivery_id, SENDING, owner),
            )

    def claim_due(self, owner: str, limit: int, lease_seconds: float, exclude: set[int] | None = None) -> list[Claim]:
        """Lease up to ``limit`` due pending deliveries whose dependency is finished, in one transaction.

        Two workers never lease the same row: SQLite runs one write transaction at a time, PostgreSQL locks the
        selected rows (``FOR UPDATE SKIP LOCKED``: another worker takes the next ones) and each lease is a
        conditional UPDATE that only counts when it changed the row.
        """
        if limit <= 0:
            return []
        now = time.time()
        claims: list[Claim] = []
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT d.*, i.payload, i.submitted_at FROM deliveries d "
                "JOIN incidents i ON i.id = d.incident_id LEFT JOIN deliveries dep ON dep.id = d.depends_on "
                "WHERE d.status = ? AND d.next_attempt_at <= ? "
                "AND (d.depends_on IS NULL OR dep.status IN (?, ?, ?)) ORDER BY d.next_attempt_at, d.id LIMIT ?"
                + self.dialect.for_update("d", skip_locked=True),
                (PENDING, now, DELIVERED, DEAD_LETTER, NOT_CONFIGURED, limit + len(exclude or ())),
            ).fetchall()
            for row in rows:
                if exclude and row["id"] in exclude:
                    continue
                if len(claims) >= limit:
                    break
                leased = conn.execute(
                    "UPDATE deliveries SET status = ?, lease_owner = ?, lease_until = ?, sending_since = ?, "
                    "attempts = attempts + 1 WHERE id = ? AND status = ?",
                    (SENDING, owner, now + lease_seconds, now, row["id"], PENDING),
                )
                if leased.rowcount != 1:
                    continue
                claims.append(Claim(row["id"], row["incident_id"], Incident.from_json(row["payload"]), row["channel"],
                                    row["action"], row["attempts"] + 1, bool(row["in_doubt"]), row["created_at"],
                                    row["submitted_at"], row["sending_since"]))
        return claims

    def mark_delivered(self, delivery_id: int, at: float, note: str | None) -> None:
        """A delivery arrived (``note``: e.g. how it was reconciled)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = ?, delivered_at = ?, lease_owner = NULL, in_doubt = 0, "
                "last_error = ? WHERE id = ?",
                (DELIVERED, at, note, delivery_id),
            )

    def schedule_retry(self, delivery_id: int, next_attempt_at: float, error: str, in_doubt: bool) -> None:
        """A delivery failed for now: pending again at ``next_attempt_at``."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = ?, next_attempt_at = ?, lease_owner = NULL, "
                "last_error = ?, in_doubt = ? WHERE id = ?",
                (PENDING, next_attempt_at, error, int(in_doubt), delivery_id),
            )

    def mark_terminal(self, delivery_id: int, status: str, error: str) -> None:
        """A delivery ends without arriving: ``dead_letter`` or ``not_configured``."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = ?, lease_owner = NULL, in_doubt = 0, last_error = ? WHERE id = ?",
                (status, error, delivery_id),
            )

    def requeue(self, status: str, ids: Sequence[int] | None = None) -> int:
        """Make deliveries of ``status`` (all, or ``ids``) pending with a fresh age; return how many."""
        now = time.time()
        with self.transaction() as conn:
            where = f"status = ? AND id IN ({','.join('?' * len(ids))})" if ids else "status = ?"
            cur = conn.execute(
                f"UPDATE deliveries SET status = '{PENDING}', next_attempt_at = ?, created_at = ?, "
                f"attempts = 0 WHERE {where}",
                [now, now, status, *(ids or ())],
            )
        return cur.rowcount

    def delivery_listing(self) -> list[dict[str, Any]]:
        """Every delivery with its incident's kind and dedup key, oldest first (``--list``)."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT d.id, d.channel, d.action, d.status, d.attempts, d.last_error, i.kind, i.dedup_key "
                "FROM deliveries d JOIN incidents i ON i.id = d.incident_id ORDER BY d.id"
            ).fetchall()
        return [dict(r) for r in rows]

    # -- liveness ------------------------------------------------------------------------------------------
    def beat(self, now: float | None = None, outage_after: float = 120.0) -> tuple[float, float] | None:
        """Record that the stack is alive; return ``(down_from, down_until)`` when this beat ends an outage."""
        now = time.time() if now is None else now
        with self.transaction() as conn:
            first = conn.execute("INSERT INTO stack_heartbeat (id, first_seen, last_seen) VALUES (1, ?, ?) "
                                 "ON CONFLICT DO NOTHING", (now, now))
            if first.rowcount == 1:
                return None
            row = conn.execute("SELECT last_seen FROM stack_heartbeat WHERE id = 1"
                               + self.dialect.for_update()).fetchone()
            outage = (float(row["last_seen"]), now) if now - float(row["last_seen"]) > outage_after else None
            if outage:
                conn.execute("INSERT INTO stack_outages (down_from, down_until) VALUES (?, ?)", outage)
            conn.execute("UPDATE stack_heartbeat SET last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END "
                         "WHERE id = 1", (now, now))
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
                "SELECT SUM(CASE WHEN status IN ('pending','sending') THEN 1 ELSE 0 END) AS depth,"
                " SUM(CASE WHEN status = 'dead_letter' THEN 1 ELSE 0 END) AS dead,"
                " MIN(CASE WHEN status IN ('pending','sending') THEN created_at END) AS oldest"
                " FROM deliveries"
            ).fetchone()
            unrouted = conn.execute("SELECT COUNT(*), MIN(submitted_at) FROM incidents "
                                    "WHERE routed_at IS NULL").fetchone()
        oldest = min([t for t in (row["oldest"], unrouted[1]) if t is not None], default=None)
        return {"depth": float((row["depth"] or 0) + unrouted[0]), "dead_letters": float(row["dead"] or 0),
                "oldest_age": max(0.0, now - oldest) if oldest is not None else 0.0}

    # -- reports -------------------------------------------------------------------------------------------
    def incidents_since(self, kind: str, since: float, *, until: float | None = None,
                        limit: int = 10_000) -> list[dict[str, Any]]:
        """Incidents of ``kind`` submitted at or after ``since`` (unix seconds; up to ``until``), oldest first.

        Each row: ``id``, ``dedup_key``, ``dag_id``, ``run_id``, ``sla``, ``severity``, ``summary``, ``deadline_at``,
        ``created_at``, ``submitted_at``, ``late_seconds``, ``resolved_at`` and ``details`` (the payload's, a dict).
        """
        import json

        sql = ("SELECT id, dedup_key, dag_id, run_id, sla, severity, summary, deadline_at, created_at, submitted_at,"
               " late_seconds, resolved_at, payload FROM incidents WHERE kind = ? AND submitted_at >= ?")
        args: list[Any] = [kind, since]
        if until is not None:
            sql += " AND submitted_at <= ?"
            args.append(until)
        with self.connect() as conn:
            rows = conn.execute(sql + " ORDER BY submitted_at, id LIMIT ?", [*args, limit]).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            try:
                details = json.loads(item.pop("payload")).get("details")
            except (TypeError, ValueError, AttributeError):
                details = None
            item["details"] = details if isinstance(details, dict) else {}
            out.append(item)
        return out
