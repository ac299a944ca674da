"""Threshold state of the error monitor, shared by every Airflow process through one small SQLite file, or by
every host through a PostgreSQL database (``error_monitor.backend: postgresql`` or ``PMX_ERROR_MONITOR_DSN``).

Task hooks fire in short-lived task-runner processes, DAG-run hooks in the scheduler, import-error hooks in
the dag-processor, so sliding windows cannot live in memory. Each check is one short write transaction
(SQLite: ``BEGIN IMMEDIATE``, WAL, ``synchronous=NORMAL``; PostgreSQL: ``BEGIN`` plus a transaction-scoped
advisory lock): insert the occurrence (idempotent on its id), count the window, read and update the rule's
alert row. Two processes (or hosts) crossing a threshold at the same moment are serialized, so exactly one of
them fires, and occurrences recorded at the same moment all count.

Hysteresis: a fired alert stays *open* (no new alert) until the window count drops below the rule's
``reset_below`` (window rules) or a DAG run succeeds (streak rule); and a rule never fires twice for the
same key within ``cooldown_minutes``. A flapping task therefore alerts once, not every minute.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from foundation.pg_session import PgConnection, connect_postgresql
from foundation.sql_store import SqlConnection, StoreLocation, create_schema, dialect_of, write_transaction
from listeners.config import ErrorMonitorSettings, StreakRule, WindowRule

STORE_NAME = "pmx-error-monitor"

SCHEMA = """
CREATE TABLE IF NOT EXISTS occurrences (
    uid TEXT PRIMARY KEY, rule TEXT NOT NULL, key TEXT NOT NULL, ts REAL NOT NULL,
    dag_id TEXT, task_id TEXT, run_id TEXT, detail TEXT);
CREATE INDEX IF NOT EXISTS occurrences_window ON occurrences (rule, key, ts);
CREATE INDEX IF NOT EXISTS occurrences_ts ON occurrences (ts);
CREATE TABLE IF NOT EXISTS streaks (
    dag_id TEXT PRIMARY KEY, failed INTEGER NOT NULL, last_run_id TEXT, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    rule TEXT NOT NULL, key TEXT NOT NULL, open INTEGER NOT NULL, fired_at REAL, closed_at REAL,
    value INTEGER, fired_count INTEGER NOT NULL DEFAULT 0, suppressed INTEGER NOT NULL DEFAULT 0,
    dedup_key TEXT, PRIMARY KEY (rule, key));
"""


@dataclass
class Alert:
    """A threshold crossing (``firing``) or its end (``resolved``, streak rule)."""

    rule: str
    key: str
    status: str
    severity: str
    value: int
    threshold: int
    window_minutes: float | None
    dedup_key: str
    summary: str
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    fired_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        """Plain fields (for the JSON event)."""
        return asdict(self)


def dedup_key(rule: str, key: str, fired_at: float) -> str:
    """Stable id of one firing: the same crossing is delivered once, a later one is a new incident."""
    return f"pmx-errmon/{rule}/{key}/{int(fired_at)}"


def _summary(rule: str, key: str, value: int, threshold: int, window: float | None) -> str:
    span = f"in the last {window:g} min" if window is not None else "in a row"
    if rule == "dag_failures":
        return f"DAG {key}: {value} failed tasks {span} (threshold {threshold})"
    if rule == "retry_storm":
        return f"DAG {key}: {value} task retries {span} (threshold {threshold})"
    if rule == "import_errors":
        return f"DAG file {key} failed to import {value} time(s) {span}"
    if rule == "consecutive_failed_runs":
        return f"DAG {key}: {value} failed runs in a row (threshold {threshold})"
    return f"{rule} {key}: {value} (threshold {threshold})"


class ThresholdStore:
    """The sliding windows, failure streaks and alert states (SQLite file or PostgreSQL database)."""

    def __init__(self, settings: ErrorMonitorSettings, location: StoreLocation | Path | None = None) -> None:
        self.settings = settings
        if isinstance(location, Path):
            location = StoreLocation.sqlite(location)
        self.location = location or settings.location()
        self.dialect = dialect_of(self.location)
        self._conn: SqlConnection | None = None
        self._lock = threading.Lock()

    def connect(self) -> SqlConnection:
        """The process's connection (created with the schema on first use)."""
        if self._conn is None:
            timeout_s = self.settings.busy_timeout_ms / 1000
            conn: SqlConnection
            if self.location.path is None:
                conn = connect_postgresql(self.location, application=STORE_NAME, lock_timeout_s=timeout_s)
            else:
                self.location.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.location.path, timeout=timeout_s, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            try:
                create_schema(conn, self.dialect, SCHEMA, STORE_NAME)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def after_fork(self) -> None:
        """Drop the inherited connection (SQLite handles must not cross a fork; a PostgreSQL session stays the
        parent's)."""
        if isinstance(self._conn, PgConnection):
            self._conn.disown()
        self._conn = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _transaction(self, work: Callable[[SqlConnection], list[Alert]]) -> list[Alert]:
        with self._lock:
            conn = self.connect()
            try:
                with write_transaction(conn, self.dialect):
                    self.dialect.serialize(conn, STORE_NAME)
                    return work(conn)
            except BaseException:
                if isinstance(conn, PgConnection):  # a broken session is not reused: the next check reconnects
                    self.close()
                raise

    # -- window rules ---------------------------------------------------------------------------------------
    def record(self, rule: str, key: str, uid: str, *, dag_id: str | None = None, task_id: str | None = None,
               run_id: str | None = None, detail: str | None = None, now: float | None = None) -> list[Alert]:
        """Add one occurrence to a window rule; return the alert it fires (if any)."""
        spec: WindowRule = getattr(self.settings.rules, rule)
        if not (self.settings.enabled and spec.enabled):
            return []
        ts = time.time() if now is None else now

        def work(conn: SqlConnection) -> list[Alert]:
            cur = conn.execute("INSERT INTO occurrences VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                               (f"{rule}/{uid}", rule, key, ts, dag_id, task_id, run_id, detail))
            if cur.rowcount == 0:
                return []  # the same occurrence reported twice (scheduler and task runner): counted once
            self._prune(conn, ts)
            count = conn.execute("SELECT COUNT(*) FROM occurrences WHERE rule=? AND key=? AND ts>?",
                                 (rule, key, ts - spec.window_minutes * 60)).fetchone()[0]
            row = conn.execute("SELECT open, fired_at FROM alerts WHERE rule=? AND key=?",
                               (rule, key)).fetchone()
            is_open, fired_at = (bool(row[0]), row[1]) if row else (False, None)
            if is_open and count - 1 < spec.rearm_below:
                is_open = False  # the window drained since the alert: re-armed
                conn.execute("UPDATE alerts SET open=0, closed_at=? WHERE rule=? AND key=?", (ts, rule, key))
            if is_open or count < spec.threshold:
                return []
            if fired_at is not None and ts - fired_at < spec.cooldown_minutes * 60:
                conn.execute("UPDATE alerts SET suppressed=suppressed+1 WHERE rule=? AND key=?", (rule, key))
                return []
            summary = _summary(rule, key, count, spec.threshold, spec.window_minutes)
            alert = Alert(rule, key, "firing", spec.severity, count, spec.threshold, spec.window_minutes,
                          dedup_key(rule, key, ts), summary, dag_id=dag_id, task_id=task_id, run_id=run_id,
                          fired_at=ts)
            self._open_alert(conn, alert)
            return [alert]

        return self._transaction(work)

    def _prune(self, conn: SqlConnection, now: float) -> None:
        rules = self.settings.rules
        longest = max(r.window_minutes for r in (rules.dag_failures, rules.retry_storm, rules.import_errors))
        conn.execute("DELETE FROM occurrences WHERE ts < ?", (now - longest * 60,))

    @staticmethod
    def _open_alert(conn: SqlConnection, alert: Alert) -> None:
        conn.execute(
            "INSERT INTO alerts (rule, key, open, fired_at, value, fired_count, dedup_key) "
            "VALUES (?,?,1,?,?,1,?) "
            "ON CONFLICT (rule, key) DO UPDATE SET open=1, fired_at=excluded.fired_at, closed_at=NULL, "
            "value=excluded.value, fired_count=alerts.fired_count+1, dedup_key=excluded.dedup_key",
            (alert.rule, alert.key, alert.fired_at, alert.value, alert.dedup_key))

    # -- streak rule ----------------------------------------------------------------------------------------
    def dag_run_finished(self, dag_id: str, run_id: str, failed: bool,
                         now: float | None = None) -> list[Alert]:
        """Count a failed run (or reset on success); return the firing or resolved alert (if any)."""
        spec: StreakRule = self.settings.rules.consecutive_failed_runs
        if not (self.settings.enabled and spec.enabled):
            return []
        ts = time.time() if now is None else now
        rule = "consecutive_failed_runs"

        def work(conn: SqlConnection) -> list[Alert]:
            row = conn.execute("SELECT failed, last_run_id FROM streaks WHERE dag_id=?", (dag_id,)).fetchone()
            streak, last_run = (row[0], row[1]) if row else (0, None)
            if last_run == run_id:
                return []  # the same run notified twice (scheduler, then a user marking it in the UI)
            previous, streak = streak, (streak + 1 if failed else 0)
            conn.execute("INSERT INTO streaks VALUES (?,?,?,?) ON CONFLICT (dag_id) DO UPDATE SET "
                         "failed=excluded.failed, last_run_id=excluded.last_run_id, updated=excluded.updated",
                         (dag_id, streak, run_id, ts))
            alert_row = conn.execute("SELECT open, fired_at, dedup_key FROM alerts "
                                     "WHERE rule=? AND key=?", (rule, dag_id)).fetchone()
            is_open, fired_at = (bool(alert_row[0]), alert_row[1]) if alert_row else (False, None)
            if not failed:
                if not is_open:
                    return []
                conn.execute("UPDATE alerts SET open=0, closed_at=? WHERE rule=? AND key=?",
                              (ts, rule, dag_id))
                text = f"DAG {dag_id}: run {run_id} succeeded after {previous} failed runs in a row"
                # the firing's severity and dedup key: the resolution closes that incident (PagerDuty page)
                return [Alert(rule, dag_id, "resolved", spec.severity, 0, spec.threshold, None, alert_row[2],
                              text, dag_id=dag_id, run_id=run_id, fired_at=ts)]
            if is_open or streak < spec.threshold:
                return []
            if fired_at is not None and ts - fired_at < spec.cooldown_minutes * 60:
                conn.execute("UPDATE alerts SET suppressed=suppressed+1 WHERE rule=? AND key=?",
                             (rule, dag_id))
                return []
            alert = Alert(rule, dag_id, "firing", spec.severity, streak, spec.threshold, None,
                          dedup_key(rule, dag_id, ts), _summary(rule, dag_id, streak, spec.threshold, None),
                          dag_id=dag_id, run_id=run_id, fired_at=ts)
            self._open_alert(conn, alert)
            return [alert]

        return self._transaction(work)

    # -- reporting ------------------------------------------------------------------------------------------
    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """Current window counts per rule and key, failure streaks and alerts (open ones first)."""
        ts = time.time() if now is None else now
        where = self.location.describe()
        if self.location.path is not None and not self.location.path.exists():
            return {"state_file": where, "windows": [], "streaks": [], "alerts": []}
        conn = self.connect()
        windows = []
        for rule in ("dag_failures", "retry_storm", "import_errors"):
            spec: WindowRule = getattr(self.settings.rules, rule)
            rows = conn.execute("SELECT key, COUNT(*) FROM occurrences WHERE rule=? AND ts>? GROUP BY key "
                                "ORDER BY 2 DESC, 1", (rule, ts - spec.window_minutes * 60)).fetchall()
            windows += [{"rule": rule, "key": k, "count": n, "threshold": spec.threshold,
                         "window_minutes": spec.window_minutes} for k, n in rows]
        streaks = [{"dag_id": d, "failed_in_a_row": n, "last_run_id": r}
                   for d, n, r in conn.execute("SELECT dag_id, failed, last_run_id FROM streaks "
                                               "WHERE failed>0 ORDER BY failed DESC, dag_id")]
        counts = {(w["rule"], w["key"]): w["count"] for w in windows}
        alerts = []
        for rule, key, is_open, fired_at, value, fired, suppressed, dkey in conn.execute(
                "SELECT rule, key, open, fired_at, value, fired_count, suppressed, dedup_key FROM alerts"):
            spec_w = getattr(self.settings.rules, rule, None)
            still_open = bool(is_open)
            if still_open and isinstance(spec_w, WindowRule):
                still_open = counts.get((rule, key), 0) >= spec_w.rearm_below
            alerts.append({"rule": rule, "key": key, "open": still_open, "fired_at": fired_at, "value": value,
                           "fired_count": fired, "suppressed": suppressed, "dedup_key": dkey})
        alerts.sort(key=lambda a: (not a["open"], -(a["fired_at"] or 0)))
        return {"state_file": where, "windows": windows, "streaks": streaks, "alerts": alerts}
