"""The typed shape of a listener event record, as ``listeners/event.schema.json`` describes it.

A hook builds a *raw* record (``ts`` and the dates still datetimes, ``error`` the raw
exception or traceback); :func:`listeners.events.finalize` turns it into the logged form (UTC ISO strings, a
redacted, bounded ``error`` text). Which keys an event carries depends on its kind (task, DAG run, import
error, lifecycle, alert, observability failure, config error): hence ``total=False`` beyond the common ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Required, TypedDict

from foundation.pipeline_logger import Stream

Date = datetime | str | None


class ListenerRecord(TypedDict, total=False):
    """One listener event (schema_version 1)."""

    # common to every event
    ts: Required[datetime | str]
    event: Required[str]
    level: Required[str]
    component: Required[str]
    stream: Required[Stream]
    schema_version: Required[int]
    hook: Required[str]
    hostname: Required[str]
    pid: Required[int]
    airflow_version: Required[str | None]
    # task instances and DAG runs
    dag_id: str | None
    task_id: str | None
    run_id: str | None
    map_index: int
    try_number: int | None
    max_tries: int | None
    state: str
    previous_state: str | None
    run_type: str | None
    queued_at: Date  # DAG runs only: a task runner's task instance carries no queued time
    start_date: Date
    end_date: Date
    duration_s: float | None
    cpu_s: float | None
    peak_rss_bytes: int | None
    error_type: str | None
    error: Any  # raw: the exception / traceback the hook received; logged: redacted text or None
    msg: str | None
    # import errors
    filename: str
    new: bool
    # lifecycle
    airflow_component: str | None
    events_written: int
    failures: int
    queue_dropped: int
    queue_flushed: bool
    metrics_dropped: int
    # error_monitor alerts
    rule: str
    key: str
    status: str
    severity: str
    value: int | str  # an alert's count; a config error's (masked) value
    threshold: int
    window_minutes: float | None
    summary: str
    dedup_key: str
    routed: bool
    # observability failures
    component_failed: str
    reason: str
    failed_hook: str | None
    # configuration errors
    file: str
    problem: str
    # assets (asset_created, asset_alias_created, asset_changed, asset_event_emitted)
    asset_name: str | None
    asset_uri: str | None
    asset_group: str | None
    alias_name: str
    alias_group: str | None
    source_dag_id: str | None
    source_task_id: str | None
    source_run_id: str | None
    source_map_index: int | None
    source_aliases: list[str]
    partition_key: str | None
    extra_keys: list[str]


class ResourceFields(TypedDict):
    """``cpu_s`` and ``peak_rss_bytes`` of a finished task."""

    cpu_s: float | None
    peak_rss_bytes: int | None


class ErrorFields(TypedDict):
    """``error_type`` and the redacted, bounded ``error``."""

    error_type: str | None
    error: str | None


class TaskContext(TypedDict, total=False):
    """What a task runner bound to its log context."""

    dag_id: str | None
    task_id: str | None
    run_id: str | None
    try_number: int | None
    map_index: int
