"""Dead-letter records for tasks that exhausted their retries, and replay through Airflow's REST API.

``record_dead_letter`` is every task's ``on_failure_callback`` (it runs after the last try only). Records live
in the ``dead_letters`` table of the portfolio database. :func:`replay` takes any client of Airflow's REST API
(:class:`RestApi`); the command line that finds the local stack's is ``python -m local_stack.dead_letters``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Protocol

from foundation.pipeline_logger import get_logger, utc_now_iso
from foundation.redaction import bounded

if TYPE_CHECKING:
    from portfolio.database_manager import DatabaseManager


class RestApi(Protocol):
    """What :func:`replay` needs of an Airflow REST client: one authenticated ``/api/v2`` call."""

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = ..., **kwargs: Any) -> Any: ...


def _db() -> DatabaseManager:
    from portfolio.database_manager import DatabaseManager

    return DatabaseManager()


def record_dead_letter(context: Any) -> None:
    """``on_failure_callback``: store the failed task instance (never raises)."""
    try:
        ti = context["ti"]
        exc = context.get("exception")
        ticker = getattr(context.get("task"), "ticker", None)
        with _db().transaction() as conn:
            conn.execute(
                """INSERT INTO dead_letters (created_at, dag_id, task_id, run_id, map_index, ticker, try_number,
                       error_type, error)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (dag_id, task_id, run_id, map_index) DO UPDATE SET
                       created_at = excluded.created_at, try_number = excluded.try_number,
                       error_type = excluded.error_type, error = excluded.error,
                       replayed_at = NULL, replay_status = NULL""",
                (utc_now_iso(), ti.dag_id, ti.task_id, ti.run_id, ti.map_index, ticker, ti.try_number,
                 type(exc).__name__ if exc else None, bounded(str(exc), 2000) if exc else None),
            )
        get_logger("dead_letters").error("task_dead_lettered", dag_id=ti.dag_id, task_id=ti.task_id,
                                         run_id=ti.run_id, map_index=ti.map_index, ticker=ticker,
                                         try_number=ti.try_number, error_type=type(exc).__name__ if exc else None)
    except Exception as err:
        with contextlib.suppress(Exception):
            get_logger("dead_letters").error("dead_letter_write_failed", error=bounded(repr(err), 500))


def list_dead_letters(include_replayed: bool = False) -> list[dict[str, Any]]:
    """Dead letters, newest first (only the ones not yet replayed unless ``include_replayed``)."""
    where = "" if include_replayed else "WHERE replayed_at IS NULL"
    with _db().connect() as conn:
        rows = conn.execute(f"SELECT * FROM dead_letters {where} ORDER BY created_at DESC").fetchall()
    return [dict(r) for r in rows]


def replay(record_id: int, api: RestApi) -> dict[str, Any]:
    """Clear the dead-lettered task instance so the scheduler runs it again; mark the record replayed."""
    with _db().connect() as conn:
        row = conn.execute("SELECT * FROM dead_letters WHERE id = ?", (record_id,)).fetchone()
    if row is None:
        raise KeyError(f"no dead letter with id {record_id}")
    task: Any = row["task_id"] if row["map_index"] < 0 else [row["task_id"], row["map_index"]]
    api.request("POST", f"/dags/{row['dag_id']}/clearTaskInstances", json={
        "dry_run": False, "dag_run_id": row["run_id"], "task_ids": [task], "only_failed": True,
        "include_downstream": True, "reset_dag_runs": True,
    })
    with _db().transaction() as conn:
        conn.execute("UPDATE dead_letters SET replayed_at = ?, replay_status = 'cleared' WHERE id = ?",
                     (utc_now_iso(), record_id))
    get_logger("dead_letters").log_event("dead_letter_replayed", dead_letter_id=record_id, dag_id=row["dag_id"],
                                         task_id=row["task_id"], run_id=row["run_id"], map_index=row["map_index"])
    return dict(row)
