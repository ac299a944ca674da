"""Structured JSON event log: one line per event in ``logs/pipeline/{pipeline,events,errors}.jsonl``.

Safe for many processes appending at once: each write happens under an exclusive ``flock`` on a per-stream
lock file, re-opens the stream if another process rotated it, and writes the whole line in one ``write``.
Streams rotate by size (``<stream>.jsonl.<UTC timestamp>``) and rotated files older than the retention are
deleted, so no line is ever torn or lost, across rotation included.

This is shared core: it depends on ``config/observability.yml`` (section ``event_log``) only, never on
``config/pipeline.yml``, so a broken trading config cannot silence the events that report it. Event logging
is not a hard requirement of a job: when the log directory is read-only, full or missing, :meth:`log_event`
drops the event, counts it (``pmx.observability.failure``, ``component=event_log``) and says so once on
stderr; the job goes on.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from foundation import paths
from foundation.clock import utc_now_iso
from foundation.config_loader import ConfigError, current_env
from foundation.event_log_config import EventLogSettings, cached_settings, load_event_log_settings, mtime
from foundation.metrics import get_client, set_failure_reporter
from foundation.redaction import bounded, redact_data

Stream = Literal["pipeline", "events", "errors"]
STREAMS: tuple[Stream, ...] = ("pipeline", "events", "errors")
ERROR_LEVELS = frozenset({"error", "critical"})
_HOST = socket.gethostname()
_context: dict[str, Any] = {}


def bind_context(**fields: Any) -> None:
    """Add fields (e.g. dag_id, task_id, run_id) to every event this process writes from now on."""
    _context.update({k: v for k, v in fields.items() if v is not None})


def clear_context() -> None:
    """Forget the fields added by :func:`bind_context`."""
    _context.clear()


class WriteHealth:
    """Failed writes of one process's event log: counted, reported once on stderr, each one a metric."""

    def __init__(self) -> None:
        self.failures = 0
        self.reported = False
        self._lock = threading.Lock()
        self._busy = threading.local()

    def record(self, path: Path, exc: OSError) -> None:
        """Count one dropped event; never raises."""
        if getattr(self._busy, "active", False):
            return  # the metric client reports its own failures through this log: no recursion
        self._busy.active = True
        try:
            with self._lock:
                self.failures += 1
                first, self.reported = not self.reported, True
            reason = errno.errorcode.get(exc.errno or 0, "other").lower() if exc.errno else "other"
            if first:
                print(f"portfolio event log: cannot write {path} ({type(exc).__name__}: {bounded(str(exc), 300)}); "
                      "JSON events are dropped and counted (pmx.observability.failure, component=event_log), "
                      "the job continues",
                      file=sys.stderr, flush=True)
            get_client().incr("observability.failure", tags={"component": "event_log", "reason": reason})
        except Exception:
            pass
        finally:
            self._busy.active = False


class _StreamFile:
    """One append-only stream file plus its lock file, shared by the threads of a process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._thread_lock = threading.Lock()

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self._lock_fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def append(self, data: bytes, max_bytes: int, retention_days: float) -> None:
        with self._thread_lock, self._locked():
            fd = self._current_fd()
            size = os.fstat(fd).st_size
            if size and size + len(data) > max_bytes:
                self._rotate(retention_days)
                fd = self._current_fd()
            view = memoryview(data)
            while view:  # a regular-file write only comes back short when the disk is full
                written = os.write(fd, view)
                view = view[written:]

    def _current_fd(self) -> int:
        """Our descriptor, re-opened if the path was rotated or removed by another process."""
        if self._fd is not None:
            try:
                if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                    return self._fd
            except FileNotFoundError:
                pass
            os.close(self._fd)
        self._fd = self._open()
        return self._fd

    def _rotate(self, retention_days: float) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        os.rename(self.path, self.path.with_name(f"{self.path.name}.{stamp}"))
        prune_rotated(self.path, retention_days)

    def close(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._lock_fd = None


def prune_rotated(stream_path: Path, retention_days: float, now: float | None = None) -> list[Path]:
    """Delete rotated files of ``stream_path`` older than ``retention_days``; return what was deleted."""
    cutoff = (now or time.time()) - retention_days * 86400
    removed = []
    for old in stream_path.parent.glob(stream_path.name + ".*"):
        if old.name.endswith(".lock"):
            continue
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
                removed.append(old)
        except FileNotFoundError:
            continue
    return removed


class PipelineLogger:
    """Writes JSON events to the ``pipeline``, ``events`` and ``errors`` streams of one directory."""

    def __init__(self, log_dir: Path | str | None = None, *, max_bytes: int = 10 * 1024 * 1024,
                 retention_days: float = 7, component: str | None = None) -> None:
        self.log_dir = Path(log_dir) if log_dir else paths.logs_dir() / "pipeline"
        self.max_bytes = max_bytes
        self.retention_days = retention_days
        self.component = component
        self._files = {s: _StreamFile(self.log_dir / f"{s}.jsonl") for s in STREAMS}
        self.health = WriteHealth()

    def stream_path(self, stream: Stream) -> Path:
        """Path of the live file of ``stream``."""
        return self._files[stream].path

    def format(self, event: str, level: str = "info", **fields: Any) -> bytes:
        """Serialize one event as a redacted JSON line (no write)."""
        record: dict[str, Any] = {"ts": utc_now_iso(), "event": event, "level": level}
        if self.component and "component" not in fields:
            record["component"] = self.component
        if _context:
            record.update(_context)
        record.update(fields)
        record.setdefault("pid", os.getpid())
        record.setdefault("hostname", _HOST)
        line = json.dumps(redact_data(record), default=str, separators=(",", ":"), ensure_ascii=False)
        return (line + "\n").encode("utf-8")

    def log_event(self, event: str, *, stream: Stream = "events", level: str = "info", **fields: Any) -> bool:
        """Append one event to ``stream`` (error levels also to ``errors``); False when it could not be written.

        An ``OSError`` (read-only, full or missing directory...) never reaches the caller: it is counted in
        :attr:`health` and reported once on stderr.
        """
        data = self.format(event, level, stream=stream, **fields)
        targets: list[Stream] = [stream, "errors"] if level in ERROR_LEVELS and stream != "errors" else [stream]
        ok = True
        for target in targets:
            try:
                self.write_line(data, target)
            except OSError as exc:
                self.health.record(self.stream_path(target), exc)
                ok = False
        return ok

    def write_line(self, data: bytes, stream: Stream) -> None:
        """Append an already formatted line to ``stream`` (raises ``OSError`` on I/O failure)."""
        self._files[stream].append(data, self.max_bytes, self.retention_days)

    def pipeline(self, event: str, **fields: Any) -> bool:
        """Log a pipeline-stage event (start, finish, progress)."""
        return self.log_event(event, stream="pipeline", **fields)

    def error(self, event: str, **fields: Any) -> bool:
        """Log an error event to ``events`` and ``errors``."""
        return self.log_event(event, stream="events", level="error", **fields)

    def cleanup(self) -> list[Path]:
        """Delete rotated files past retention for every stream."""
        removed: list[Path] = []
        for f in self._files.values():
            removed += prune_rotated(f.path, self.retention_days)
        return removed

    def close(self) -> None:
        """Close the open file descriptors."""
        for f in self._files.values():
            f.close()


def read_events(log_dir: Path | str | None = None, stream: Stream = "events") -> Iterator[dict[str, Any]]:
    """Yield the events of ``stream``, rotated files first (oldest to newest), then the live file."""
    directory = Path(log_dir) if log_dir else paths.logs_dir() / "pipeline"
    live = directory / f"{stream}.jsonl"
    rotated = sorted(p for p in directory.glob(f"{stream}.jsonl.*") if not p.name.endswith(".lock"))
    for path in [*rotated, live]:
        try:
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        yield json.loads(line)
        except FileNotFoundError:
            continue


__all__ = ["ERROR_LEVELS", "STREAMS", "EventLogSettings", "PipelineLogger", "WriteHealth", "bind_context",
           "clear_context", "get_logger", "load_event_log_settings", "prune_rotated", "read_events", "utc_now_iso"]

_default: PipelineLogger | None = None
_default_key: tuple[str, ...] | None = None
_config_problem: str | None = None


def _settings() -> EventLogSettings:
    """The event-log settings; a broken ``event_log`` section falls back to the defaults, reported once."""
    global _config_problem
    try:
        directory, env = paths.config_dir(), current_env()
        cfg = cached_settings(str(directory), env, mtime(directory / "observability.yml"),
                              mtime(directory / "environments" / f"{env}.yml"))
    except ConfigError as exc:
        if _config_problem != str(exc):
            _config_problem = str(exc)
            print(f"portfolio event log: {bounded(str(exc), 500)}; using the default event-log settings",
                  file=sys.stderr, flush=True)
        return EventLogSettings()
    _config_problem = None
    return cfg


def get_logger(component: str | None = None) -> PipelineLogger:
    """The process-wide logger configured from ``config/observability.yml`` (``PMX_LOG_DIR`` overrides the dir).

    It never reads ``config/pipeline.yml``: a broken trading config must not silence the event log.
    """
    global _default, _default_key
    cfg = _settings()
    log_dir = Path(os.environ["PMX_LOG_DIR"]) / "pipeline" if os.environ.get("PMX_LOG_DIR") else paths.resolve(cfg.dir)
    key = (str(log_dir), str(cfg.max_bytes), str(cfg.retention_days))
    if _default is None or _default_key != key:
        _default = PipelineLogger(log_dir, max_bytes=cfg.max_bytes, retention_days=cfg.retention_days)
        _default_key = key
        if _config_problem:
            _default.log_event("config_invalid", level="error", config="observability",
                               error=bounded(_config_problem, 500), fallback="default event-log settings")
    if component is None:
        return _default
    child = PipelineLogger.__new__(PipelineLogger)
    child.__dict__.update(_default.__dict__)
    child.component = component
    return child


def log_failure(component: str, reason: str, exc: BaseException | None = None, *, level: str = "warning",
                **context: Any) -> None:
    """The ``observability_failure`` event of a failed observability path (:mod:`foundation.failures`); never raises."""
    with suppress(Exception):
        get_logger(component).log_event(
            "observability_failure",
            level=level,
            component_failed=component,
            reason=reason,
            error_type=type(exc).__name__ if exc is not None else None,
            error=bounded(f"{type(exc).__name__}: {exc}", 500) if exc is not None else None,
            **context,
        )


# The StatsD client reports its own failures here (it cannot count them through itself).
set_failure_reporter(lambda reason, exc: log_failure("metrics", reason, exc))
