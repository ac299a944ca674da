"""Build the listener's JSON event records (schema: ``listeners/event.schema.json``, docs/listener_events.md).

Works with both kinds of task instance a hook receives: the task runner's ``RuntimeTaskInstance`` (no
``duration``, ``pool`` or ``operator``; the run type lives in the context the API server sent) and the ORM
``TaskInstance`` of the scheduler / api-server. Relationships are only read when already loaded, so a hook
never triggers a database query.
"""

from __future__ import annotations

import os
import resource
import socket
import sys
from datetime import UTC, datetime
from typing import Any

from foundation import clock
from foundation.pipeline_logger import Stream
from foundation.scrub import scrub, scrub_bounded
from listeners.record import ErrorFields, ListenerRecord, ResourceFields

SCHEMA_VERSION = 1
COMPONENT = "listener"
HOSTNAME = socket.gethostname()
TASK_STATES = ("running", "success", "failed", "up_for_retry", "skipped")
_LEVELS = {"failed": "error", "up_for_retry": "warning"}


def utc_iso(value: datetime | None = None) -> str | None:
    """``value`` (default now) as UTC ISO-8601 with microseconds and ``Z``; ``None`` stays ``None``."""
    if value is None:
        return clock.utc_now_iso()
    return clock.utc_iso(value) if isinstance(value, datetime) else None


def airflow_version() -> str | None:
    """The running Airflow version (from the already imported package)."""
    module = sys.modules.get("airflow")
    version = getattr(module, "__version__", None)
    return str(version) if version else None


def state_text(value: Any) -> str | None:
    """An Airflow state enum (or plain string) as its lower-case value."""
    if value is None:
        return None
    return str(getattr(value, "value", value)).lower()


def _loaded(obj: Any, name: str) -> Any:
    """An attribute only if already present on the instance (never lazy-loads an ORM relationship)."""
    try:
        return vars(obj).get(name)
    except TypeError:
        return None


def _seconds(start: Any, end: Any) -> float | None:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return round((end - start).total_seconds(), 6)
    return None


def base_record(event: str, hook: str, *, level: str = "info", stream: Stream = "pipeline") -> ListenerRecord:
    """Fields every listener event carries (``ts`` still a datetime: :func:`finalize` formats it)."""
    return {"ts": datetime.now(UTC), "event": event, "level": level, "component": COMPONENT, "stream": stream,
            "schema_version": SCHEMA_VERSION, "hook": hook, "hostname": HOSTNAME, "pid": os.getpid(),
            "airflow_version": airflow_version()}


def task_run_type(ti: Any) -> str | None:
    """Run type of the task's DAG run (``manual``, ``scheduled``...), when known without a query."""
    context = getattr(ti, "_ti_context_from_server", None)
    dag_run = getattr(context, "dag_run", None) if context is not None else _loaded(ti, "dag_run")
    return state_text(getattr(dag_run, "run_type", None)) if dag_run is not None else None


def task_state(hook_state: str, ti: Any) -> str:
    """The state an event reports: the failed hook covers both ``up_for_retry`` and ``failed``."""
    if hook_state != "failed":
        return hook_state
    actual = state_text(getattr(ti, "state", None))
    return "up_for_retry" if actual == "up_for_retry" else "failed"


def task_record(hook: str, state: str, ti: Any, previous_state: Any, error: Any = None) -> ListenerRecord:
    """The raw event of one task-instance hook: plain reads of the task instance, nothing formatted yet."""
    start, end = getattr(ti, "start_date", None), getattr(ti, "end_date", None)
    running = state == "running"
    if end is None and not running:
        end = datetime.now(UTC)  # a skip leaves end_date unset on a RuntimeTaskInstance: the hook is the end
    duration = None if running else getattr(ti, "duration", None)
    if not running and not isinstance(duration, (int, float)):
        duration = _seconds(start, end)
    record = base_record(f"task_{state}", hook, level=_LEVELS.get(state, "info"))
    map_index = getattr(ti, "map_index", -1)
    record.update({
        "dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id,
        "map_index": -1 if map_index is None else int(map_index),
        "try_number": getattr(ti, "try_number", None), "max_tries": getattr(ti, "max_tries", None),
        "state": state, "previous_state": state_text(previous_state), "run_type": task_run_type(ti),
        "start_date": start, "end_date": None if running else end, "duration_s": duration,
        "cpu_s": None, "peak_rss_bytes": None,
        "error_type": None, "error": error if state in ("failed", "up_for_retry") else None,
    })
    return record


_SECRET_KEY_PARTS = ("password", "passwd", "secret", "token", "api_key", "apikey", "routing_key", "authorization")


def config_error_record(hook: str, ti: Any, error: Any) -> ListenerRecord | None:
    """A ``config_invalid`` event when a task failed on a configuration error (file, key, value, problem).

    Duck-typed on the domain's ``ConfigError`` (class name and its ``file``/``key``/``value``/``problem``
    attributes): the add-on does not import the domain.
    """
    if type(error).__name__ != "ConfigError" or not all(hasattr(error, a) for a in ("file", "key", "problem")):
        return None
    key = str(getattr(error, "key", "") or "")
    secret = any(part in key.lower().replace("-", "_") for part in _SECRET_KEY_PARTS)
    record = base_record("config_invalid", hook, level="error", stream="events")
    record.update({
        "dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id,
        "file": scrub_bounded(str(error.file), 500), "key": scrub_bounded(key, 300),
        "value": "***" if secret else scrub_bounded(repr(getattr(error, "value", None)), 200),
        "problem": scrub_bounded(str(error.problem), 500),
    })
    return record


def dag_run_record(hook: str, state: str, dag_run: Any, msg: Any) -> ListenerRecord:
    """The raw event of one DAG-run hook (plain reads of the ORM object, safe to format on another thread)."""
    start, end = getattr(dag_run, "start_date", None), getattr(dag_run, "end_date", None)
    running = state == "running"
    record = base_record(f"dag_run_{state}", hook, level="error" if state == "failed" else "info")
    record.update({
        "dag_id": dag_run.dag_id, "run_id": dag_run.run_id,
        "run_type": state_text(getattr(dag_run, "run_type", None)), "state": state,
        "queued_at": getattr(dag_run, "queued_at", None), "start_date": start, "end_date": None if running else end,
        "duration_s": None if running else _seconds(start, end), "msg": None if msg is None else str(msg),
    })
    return record


def import_error_record(hook: str, filename: Any, stacktrace: Any, new: bool) -> ListenerRecord:
    """The raw event of one import-error hook."""
    record = base_record("dag_import_error", hook, level="error", stream="events")
    record.update({"filename": str(filename), "new": new, "error_type": None, "error": str(stacktrace or "")})
    return record


MAX_EXTRA_KEYS = 50


def safe_uri(uri: Any) -> str | None:
    """An asset URI without the credentials it may carry (``scheme://user:pass@host`` -> ``scheme://***@host``),
    redacted and bounded."""
    if uri is None:
        return None
    text = str(uri)
    scheme, sep, rest = text.partition("://")
    if sep:
        authority, slash, path = rest.partition("/")
        if "@" in authority:
            authority = "***@" + authority.rsplit("@", 1)[1]
        text = f"{scheme}{sep}{authority}{slash}{path}"
    return scrub_bounded(text, 1000)


def _text(value: Any, limit: int = 250) -> str | None:
    return None if value is None else scrub_bounded(str(value), limit)


def asset_record(hook: str, event: str, asset: Any) -> ListenerRecord:
    """The raw event of ``on_asset_created`` / ``on_asset_changed``: the asset's name, URI and group."""
    record = base_record(event, hook)
    record.update({"asset_name": _text(getattr(asset, "name", None)),
                   "asset_uri": safe_uri(getattr(asset, "uri", None)),
                   "asset_group": _text(getattr(asset, "group", None))})
    return record


def asset_alias_record(hook: str, alias: Any) -> ListenerRecord:
    """The raw event of ``on_asset_alias_created``."""
    record = base_record("asset_alias_created", hook)
    record.update({"alias_name": _text(getattr(alias, "name", None)) or "?",
                   "alias_group": _text(getattr(alias, "group", None))})
    return record


def asset_event_record(hook: str, asset_event: Any) -> ListenerRecord:
    """The raw event of ``on_asset_event_emitted``: the asset, the task that emitted it, and the names (never the
    values) of its ``extra``."""
    record = asset_record(hook, "asset_event_emitted", getattr(asset_event, "asset", None))
    extra = getattr(asset_event, "extra", None)
    aliases = getattr(asset_event, "source_aliases", None) or []
    map_index = getattr(asset_event, "source_map_index", None)
    record.update({
        "source_dag_id": _text(getattr(asset_event, "source_dag_id", None)),
        "source_task_id": _text(getattr(asset_event, "source_task_id", None)),
        "source_run_id": _text(getattr(asset_event, "source_run_id", None)),
        "source_map_index": None if map_index is None else int(map_index),
        "source_aliases": [_text(getattr(a, "name", a)) or "?" for a in list(aliases)[:MAX_EXTRA_KEYS]],
        "partition_key": _text(getattr(asset_event, "partition_key", None)),
        "extra_keys": sorted(_text(k, 100) or "" for k in extra)[:MAX_EXTRA_KEYS] if isinstance(extra, dict) else [],
    })
    return record


def format_dates(record: ListenerRecord) -> ListenerRecord:
    """``ts`` and the dates (``queued_at``, ``start_date``, ``end_date``) as UTC ISO-8601 strings."""
    if isinstance(record["ts"], datetime):
        record["ts"] = clock.utc_iso(record["ts"])
    for key in ("queued_at", "start_date", "end_date"):
        value = record.get(key)
        if isinstance(value, datetime):
            record[key] = clock.utc_iso(value)
    return record


def finalize(record: ListenerRecord, limit: int) -> ListenerRecord:
    """Format a raw record for the log: UTC ISO dates, ``error_type`` and the redacted, bounded ``error``."""
    format_dates(record)
    error = record.get("error")
    if record["event"] == "dag_import_error":
        record["error_type"] = traceback_error_type(error or "")
        record["error"] = scrub_bounded(error or "", limit)
    elif error is not None:
        record.update(error_fields(error, limit))
    msg = record.get("msg")
    if msg:
        record["msg"] = scrub(msg)[:200]
    return record


def error_fields(error: Any, limit: int) -> ErrorFields:
    """``error_type`` and a redacted, bounded ``error`` message (``None`` when there is no error)."""
    if error is None:
        return {"error_type": None, "error": None}
    if isinstance(error, BaseException):
        text = str(error) or type(error).__name__
        return {"error_type": type(error).__name__, "error": scrub_bounded(text, limit)}
    return {"error_type": None, "error": scrub_bounded(str(error), limit)}


def traceback_error_type(stacktrace: str) -> str | None:
    """The exception class named on the last line of a Python traceback (``ModuleNotFoundError``...)."""
    for line in reversed(stacktrace.strip().splitlines()):
        head = line.split(":", 1)[0].strip()
        if head and head.replace(".", "").replace("_", "").isalnum() and " " not in head:
            return head.rsplit(".", 1)[-1]
        if line.strip():
            return None
    return None


class ResourceUsage:
    """CPU seconds and peak RSS of the process running a task (plus the children it waited for).

    In a task-runner process (forked for one task) the counters start at the fork, so the whole process
    is the task's cost. In a process that runs several tasks (``dag.test()``), CPU is the delta since the
    task's ``running`` hook; peak RSS is always the process's high-water mark.
    """

    def __init__(self) -> None:
        self.whole_process = False
        self._baselines: dict[tuple[Any, ...], float] = {}

    @staticmethod
    def cpu_seconds() -> float:
        """User + system CPU of this process and its reaped children."""
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    @staticmethod
    def peak_rss_bytes() -> int:
        """Peak resident set size (bytes) of this process or its largest reaped child."""
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return max(own.ru_maxrss, kids.ru_maxrss) * 1024  # Linux reports kilobytes

    def start(self, key: tuple[Any, ...]) -> None:
        """Remember the CPU counter when a task starts running in this process."""
        if not self.whole_process:
            if len(self._baselines) > 10_000:
                self._baselines.clear()
            self._baselines[key] = self.cpu_seconds()

    def finish(self, key: tuple[Any, ...]) -> ResourceFields:
        """``cpu_s`` and ``peak_rss_bytes`` for a task that just reached a terminal state."""
        now = self.cpu_seconds()
        base = 0.0 if self.whole_process else self._baselines.pop(key, None)
        if base is None:
            return {"cpu_s": None, "peak_rss_bytes": None}
        return {"cpu_s": round(now - base, 6), "peak_rss_bytes": self.peak_rss_bytes()}
