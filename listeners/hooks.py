"""The listener: Airflow hook implementations that produce JSON events, StatsD metrics and threshold checks.

Where each hook fires (Airflow 3.3.2):

* ``on_task_instance_running/success/failed/skipped``: the task-runner process (task SDK listener manager,
  ``RuntimeTaskInstance``); ``failed`` covers both ``up_for_retry`` and ``failed``. The scheduler also calls
  ``failed`` with an ORM ``TaskInstance`` for a task that died outside its runner (heartbeat timeout, killed
  worker), and the api-server calls success/failed/skipped when a user sets a task's state.
* ``on_dag_run_running/success/failed``: the scheduler (and the api-server when a user marks a run).
* ``on_new_dag_import_error`` / ``on_existing_dag_import_error``: the dag-processor, on every parse of a
  broken file.
* ``on_asset_created`` / ``on_asset_alias_created`` / ``on_asset_changed`` / ``on_asset_event_emitted``: where
  Airflow registers assets (dag-processor) and asset events (api-server, scheduler).
* ``on_starting`` / ``before_stopping``: every job (scheduler, dag-processor, triggerer) and every task
  runner (``TaskRunnerMarker``); the api-server fires neither.

A hook only reads the objects it is given into a plain record (no formatting, no I/O but one UDP datagram
with its own latency) and queues it. The *writer* thread formats, redacts, appends the JSON line under flock
and sends the event's metrics; the *monitor* thread runs the error_monitor checks (SQLite or PostgreSQL) and
routes alerts.
A task runner drains both in ``before_stopping`` (its last hook: the queued jobs then run in the hook's own
thread, no hand-off); other processes drain them at interpreter exit.
Every hook body runs inside :meth:`PortfolioListener._guard`: an exception is counted, reported once and
swallowed, so a task's outcome never depends on the listener.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import sys
import time
import weakref
from typing import TYPE_CHECKING, Any, cast

from airflow.listeners import hookimpl

from foundation.statsd_sender import tag_text
from listeners.config import ObservabilityConfig, env_switch, load_observability
from listeners.emit import EventWriter, FailureCounter, StatsdSender
from listeners.events import (
    ResourceUsage,
    asset_alias_record,
    asset_event_record,
    asset_record,
    base_record,
    config_error_record,
    dag_run_record,
    finalize,
    format_dates,
    import_error_record,
    task_record,
    task_state,
)
from listeners.record import ListenerRecord, TaskContext
from listeners.worker import BackgroundWorker

if TYPE_CHECKING:
    from listeners.alerting import RouteAlert

log = logging.getLogger("listeners")
FAULT_ENV = "PMX_LISTENER_INJECT_FAULT"  # test hook: comma-separated hook names (or "all") that raise inside
COMPONENT_NAMES = {"SchedulerJob": "scheduler", "DagProcessorJob": "dag-processor",
                   "TriggererJob": "triggerer", "TaskRunnerMarker": "task-runner"}
MONITORED = frozenset({"task_failed", "task_up_for_retry", "dag_run_success", "dag_run_failed",
                       "dag_import_error"})


class InjectedFault(RuntimeError):
    """Raised inside a hook when ``PMX_LISTENER_INJECT_FAULT`` names it (fault tests only)."""


def component_name(component: Any) -> str:
    """``scheduler``, ``dag-processor``, ``triggerer``, ``task-runner`` or the job type in lower case.

    A job has no type yet when ``on_starting`` fires: then the ``airflow <command>`` of the process decides.
    """
    job_type = getattr(component, "job_type", None)
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if not job_type and type(component).__name__ == "Job" and command in COMPONENT_NAMES.values():
        return command
    job_type = job_type or type(component).__name__
    return COMPONENT_NAMES.get(str(job_type), str(job_type).lower())


class PortfolioListener:
    """One instance per process, registered with both the core and the task-SDK listener managers."""

    def __init__(self, config: ObservabilityConfig | None = None, route_alert: RouteAlert | None = None) -> None:
        self._config = config
        self.route_alert = route_alert
        self.failures = FailureCounter()
        on_error = self.failures.record
        self.writer_queue = BackgroundWorker(1000, on_error=on_error, name="pmx-listener-writer")
        self.monitor_queue = BackgroundWorker(1000, on_error=on_error, name="pmx-listener-monitor")
        self.writer = EventWriter(self.failures)
        self.statsd = StatsdSender(self.failures,
                                   lambda job: self.monitor_queue.submit("statsd_resolve", job))
        self.resources = ResourceUsage()
        self.component: str | None = None
        self._bridge: Any = None
        self._active: bool | None = None
        self._faults: frozenset[str] | None = None
        self.failures.report_event = self._report_failure
        self.failures.report_metric = lambda reason: self.statsd.send(
            [self.statsd.line("observability.failure", 1, "c", {"component": "listener", "reason": reason})])
        ref = weakref.ref(self)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=lambda: _call(ref, "_after_fork"))
        atexit.register(lambda: _call(ref, "flush_at_exit"))

    # -- setup ----------------------------------------------------------------------------------------------
    @property
    def config(self) -> ObservabilityConfig:
        """The observability config (loaded on first use)."""
        if self._config is None:
            self._config = load_observability()
        return self._config

    def active(self) -> bool:
        """Whether hooks do anything in this process (decided once; a broken config is reported once)."""
        if self._active is None:
            try:
                switch = env_switch()
                cfg = self.config
                self._active = cfg.listener.enabled if switch is None else switch
                self.writer_queue.maxsize = self.monitor_queue.maxsize = cfg.listener.queue_size
            except Exception as exc:  # e.g. a typo in config/observability.yml
                self._active = False
                self.failures.record("config", exc)
        return self._active

    def _after_fork(self) -> None:
        """A forked child (LocalExecutor worker, supervisor, task runner) starts with its own clean state."""
        self.failures.reset()
        self.writer_queue.after_fork()
        self.monitor_queue.after_fork()
        self.writer.reset()
        self.statsd.reset()
        self.resources = ResourceUsage()
        self.component = None
        if self._bridge is not None:
            self._bridge.store.after_fork()

    def bridge(self) -> Any:
        """The error_monitor bridge (its state store opened lazily, on the monitor thread)."""
        if self._bridge is None:
            from listeners.alerting import ErrorMonitorBridge
            from listeners.error_monitor import ThresholdStore

            self._bridge = ErrorMonitorBridge(ThresholdStore(self.config.error_monitor), self._write_now,
                                              self.statsd.send, self.statsd.line, self.failures.record,
                                              self.route_alert)
        return self._bridge

    def flush(self, timeout: float) -> bool:
        """Write queued events and run queued threshold checks now, in this thread (at most ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        done = self.writer_queue.drain(timeout)
        done = self.monitor_queue.drain(max(0.0, deadline - time.monotonic())) and done
        return done

    def flush_at_exit(self) -> None:
        """Interpreter exit: drain what is queued (a task runner has done so in ``before_stopping``)."""
        if self.writer_queue.pending or self.monitor_queue.pending:
            self.flush(self.config.listener.flush_timeout_seconds if self._config else 5.0)

    # -- output (writer / monitor threads) ------------------------------------------------------------------
    def _queue(self, record: ListenerRecord, latency_ms: float | None = None) -> None:
        job = functools.partial(self._publish, record, latency_ms)
        if not self.writer_queue.submit("event_publish", job):
            self.failures.record("queue_full", None, record.get("hook"))

    def _publish(self, record: ListenerRecord, latency: float | None = None) -> None:
        """Writer thread: format, write, count (``latency``: the hook's own, in ms); queue a failure's check."""
        finalize(record, self.config.listener.max_error_chars)
        lines = self._metric_lines(record)
        if latency is not None:
            hook_tag = f",hook={record['hook']}"
            lines.append(self.statsd.tagged("listener.hook_latency", latency, "ms", hook_tag))
        for stream in self.writer.write(record, record["hook"]):
            lines.append(self.statsd.tagged("listener.events_written", 1, "c", f",stream={stream}"))
        self.statsd.send(lines)
        monitored = record["event"] in MONITORED and self.config.error_monitor.enabled
        job = functools.partial(self._monitor, record)
        if monitored and not self.monitor_queue.submit("error_monitor", job):
            self.failures.record("queue_full", None, record.get("hook"))

    def _metric_lines(self, record: ListenerRecord) -> list[str]:
        line, event, state = self.statsd.tagged, record["event"], record.get("state")
        if event.startswith("task_"):
            tags = tag_text({"dag_id": record["dag_id"], "task_id": record["task_id"]})
            lines = [line("task.event", 1, "c", f"{tags},state={state}")]
            if record["duration_s"] is not None:
                ms = record["duration_s"] * 1000
                lines.append(line("task.duration", ms, "ms", f"{tags},state={state}"))
            if record["cpu_s"] is not None:
                lines.append(line("task.cpu_time", record["cpu_s"] * 1000, "ms", tags))
                lines.append(line("task.peak_rss", record.get("peak_rss_bytes") or 0, "g", tags))
            return lines
        if event.startswith("dag_run_"):
            tags = tag_text({"dag_id": record["dag_id"]})
            lines = [line("dagrun.event", 1, "c", f"{tags},state={state}")]
            if record["duration_s"] is not None:
                ms = record["duration_s"] * 1000
                lines.append(line("dagrun.duration", ms, "ms", f"{tags},state={state}"))
            return lines
        if event == "dag_import_error":
            return [line("dag_processing.import_error", 1, "c", "")]
        return []

    def _monitor(self, record: ListenerRecord) -> None:
        """Monitor thread: feed the threshold store; publish what crosses."""
        bridge, event = self.bridge(), record["event"]
        if event.startswith("task_"):
            bridge.task_outcome(record)
        elif event.startswith("dag_run_"):
            bridge.dag_run_outcome(record)
        else:
            bridge.import_error(record)

    def _write_now(self, record: ListenerRecord) -> None:
        """Write a record on the calling (monitor) thread, with its events_written count."""
        finalize(record, self.config.listener.max_error_chars)
        lines = [self.statsd.tagged("listener.events_written", 1, "c", f",stream={s}")
                 for s in self.writer.write(record, record["hook"])]
        self.statsd.send(lines)

    def _report_failure(self, fields: dict[str, Any]) -> None:
        hook = fields.get("failed_hook") or "listener"
        record = base_record("observability_failure", hook, level="warning", stream="events")
        record.update({"component_failed": "listener", "airflow_component": self.component,
                       "reason": fields["reason"], "failed_hook": fields.get("failed_hook"),
                       "error_type": fields.get("error_type"), "error": fields.get("error")})
        format_dates(record)  # the fields are already redacted by the failure counter
        self.writer.logger().write_line(self.writer.encode(record), "events")

    # -- the guard ------------------------------------------------------------------------------------------
    def _guard(self, hook: str, body: Any, *args: Any) -> None:
        """Run ``body`` timed and queue the record it returns; count and swallow any exception.

        The hook's own latency travels with its record, so the hook makes no system call after queueing it
        (a call that releases the GIL would let the writer thread run inside the hook's time).
        """
        if not self.active():
            return
        started = time.perf_counter()
        record: ListenerRecord | None = None
        try:
            if args and hook in ("on_starting", "before_stopping"):
                self.component = component_name(args[0])
            if self._faults is None:
                raw = os.environ.get(FAULT_ENV, "")
                self._faults = frozenset(p.strip() for p in raw.split(",") if p.strip())
            if self._faults and (hook in self._faults or "all" in self._faults):
                raise InjectedFault(f"fault injected into {hook} ({FAULT_ENV})")
            record = body(hook, *args)
        except Exception as exc:  # the listener never breaks the pipeline
            self.failures.record("hook_error", exc, hook)
        try:
            elapsed_ms = (time.perf_counter() - started) * 1000
            if record is not None and hook == "before_stopping":
                self._publish(record, elapsed_ms)  # the queues are drained: the last event is written here
            elif record is not None:
                self._queue(record, elapsed_ms)
            else:
                line = self.statsd.tagged("listener.hook_latency", elapsed_ms, "ms", f",hook={hook}")
                self.statsd.send([line])
        except Exception as exc:
            self.failures.record("metrics", exc, hook)

    # -- task instances -------------------------------------------------------------------------------------
    def _task(self, hook: str, hook_state: str, previous_state: Any, ti: Any,
              error: Any = None) -> ListenerRecord:
        state = task_state(hook_state, ti)
        record = task_record(hook, state, ti, previous_state, error)
        config_error = config_error_record(hook, ti, error) if state in ("failed", "up_for_retry") else None
        if config_error is not None:  # a broken domain config is itself an event
            self._queue(config_error)
        key = (record["dag_id"], record["task_id"], record["run_id"], record["map_index"], record["try_number"])
        if state == "running":
            self.resources.start(key)
        else:
            record.update(self.resources.finish(key))
        return record

    @hookimpl
    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        """A task instance started running (task runner)."""
        self._guard("on_task_instance_running", self._task, "running", previous_state, task_instance)

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        """A task instance succeeded."""
        self._guard("on_task_instance_success", self._task, "success", previous_state, task_instance)

    @hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        """A task instance failed (``up_for_retry`` when it will retry, else ``failed``)."""
        self._guard("on_task_instance_failed", self._task, "failed", previous_state, task_instance, error)

    @hookimpl
    def on_task_instance_skipped(self, previous_state: Any, task_instance: Any) -> None:
        """A task instance skipped itself while running."""
        self._guard("on_task_instance_skipped", self._task, "skipped", previous_state, task_instance)

    # -- DAG runs -------------------------------------------------------------------------------------------
    def _dag_run(self, hook: str, state: str, dag_run: Any, msg: Any) -> ListenerRecord:
        return dag_run_record(hook, state, dag_run, msg)

    @hookimpl
    def on_dag_run_running(self, dag_run: Any, msg: str) -> None:
        """A DAG run started (scheduler)."""
        self._guard("on_dag_run_running", self._dag_run, "running", dag_run, msg)

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        """A DAG run succeeded."""
        self._guard("on_dag_run_success", self._dag_run, "success", dag_run, msg)

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        """A DAG run failed."""
        self._guard("on_dag_run_failed", self._dag_run, "failed", dag_run, msg)

    # -- import errors --------------------------------------------------------------------------------------
    def _import_error(self, hook: str, filename: Any, stacktrace: Any, new: bool) -> ListenerRecord:
        return import_error_record(hook, filename, stacktrace, new)

    @hookimpl
    def on_new_dag_import_error(self, filename: Any, stacktrace: Any) -> None:
        """A DAG file failed to import for the first time (dag-processor)."""
        self._guard("on_new_dag_import_error", self._import_error, filename, stacktrace, True)

    @hookimpl
    def on_existing_dag_import_error(self, filename: Any, stacktrace: Any) -> None:
        """A DAG file still fails to import (dag-processor, every parse)."""
        self._guard("on_existing_dag_import_error", self._import_error, filename, stacktrace, False)

    # -- assets ---------------------------------------------------------------------------------------------
    @hookimpl
    def on_asset_created(self, asset: Any) -> None:
        """A new asset was registered."""
        self._guard("on_asset_created", asset_record, "asset_created", asset)

    @hookimpl
    def on_asset_alias_created(self, asset_alias: Any) -> None:
        """A new asset alias was registered."""
        self._guard("on_asset_alias_created", asset_alias_record, asset_alias)

    @hookimpl
    def on_asset_changed(self, asset: Any) -> None:
        """An asset change was registered."""
        self._guard("on_asset_changed", asset_record, "asset_changed", asset)

    @hookimpl
    def on_asset_event_emitted(self, asset_event: Any) -> None:
        """An asset event was emitted (with its source task)."""
        self._guard("on_asset_event_emitted", asset_event_record, asset_event)

    # -- lifecycle ------------------------------------------------------------------------------------------
    def _lifecycle(self, hook: str, component: Any) -> ListenerRecord | None:
        if self.component == "task-runner":
            self.resources.whole_process = True
        settings = self.config.listener
        starting = hook == "on_starting"
        flushed = True if starting else self.flush(settings.flush_timeout_seconds)
        if not flushed:
            self.failures.record("flush_timeout", None, hook)
        if not settings.lifecycle_events:
            return None
        event = "component_starting" if starting else "component_stopping"
        record = base_record(event, hook, stream="events")
        record["airflow_component"] = self.component
        if self.component == "task-runner":
            record.update(_task_context())
        if not starting:
            record.update({"events_written": sum(self.writer.written.values()),
                           "failures": self.failures.total,
                           "queue_dropped": self.writer_queue.dropped + self.monitor_queue.dropped,
                           "queue_flushed": flushed, "metrics_dropped": self.statsd.dropped})
        return record

    @hookimpl
    def on_starting(self, component: Any) -> None:
        """An Airflow job or task runner is starting."""
        self._guard("on_starting", self._lifecycle, component)

    @hookimpl
    def before_stopping(self, component: Any) -> None:
        """An Airflow job or task runner is about to stop: drain queued work first."""
        self._guard("before_stopping", self._lifecycle, component)


def _call(ref: weakref.ref[PortfolioListener], method: str) -> None:
    listener = ref()
    if listener is not None:
        with contextlib.suppress(Exception):  # at fork or exit nothing may raise
            getattr(listener, method)()


def _task_context() -> TaskContext:
    """dag_id/task_id/run_id/try_number/map_index the task runner bound to its log context, if any."""
    try:
        import structlog

        bound = structlog.contextvars.get_contextvars()
    except Exception:
        return {}
    keys = ("dag_id", "task_id", "run_id", "try_number", "map_index")
    return cast(TaskContext, {k: bound[k] for k in keys if k in bound})
