"""Airflow local settings of the project (Airflow imports this module by name from ``sys.path``).

Two overrides: component logs are configured with secrets masking (``listeners/log_masking.py``), and the
SQLite metadata database waits longer for its lock (:data:`METADATA_CONNECT_ARGS`).
"""

from __future__ import annotations

from listeners.log_masking import configure_logging

__all__ = ["configure_logging"]


def _metadata_connect_args() -> dict[str, object]:
    """SQLite metadata database (the embedded stack): wait up to 30 s for a lock instead of sqlite3's 5 s.

    The scheduler, the api-server, the dag-processor and every task's Execution API call write one file; with
    the tuned scheduler loop (``scheduler_idle_sleep_time``) and six task slots a burst of writes can hold the
    lock for more than 5 s, and a request then failed with "database is locked". Named by
    ``[database] sql_alchemy_connect_args`` (and ``_async``, :data:`METADATA_CONNECT_ARGS_ASYNC`) in
    ``config/airflow.yml``; any other database gets no extra arguments.
    """
    from airflow.configuration import conf

    url = conf.get("database", "sql_alchemy_conn", fallback="") or ""
    return {"timeout": 30} if url.startswith("sqlite") else {}


METADATA_CONNECT_ARGS = _metadata_connect_args()
METADATA_CONNECT_ARGS_ASYNC = _metadata_connect_args()  # its own dict: Airflow adds sync-only keys to the other
