"""The error_monitor bridge: turn hook outcomes into threshold checks, and crossed thresholds into alerts.

Every alert is written as a JSON ``alert`` event and counted (``pmx.error_monitor.alert``); each one is also
handed to the ``route`` the composition root gives the listener (``addon.routing.route_error_alert`` when
alerting is on: the durable outbox), a firing alert and its end (``resolved``, streak rule) alike.
All of this runs on the listener's background worker, never inside a hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from listeners.error_monitor import Alert, ThresholdStore
from listeners.events import base_record
from listeners.record import ListenerRecord

RouteAlert = Callable[[Alert], None]
"""Hands a crossed threshold (or its resolution) to an incident router; the composition root supplies it."""


def alert_record(alert: Alert, routed: bool) -> ListenerRecord:
    """The JSON ``alert`` event of one alert."""
    level = "error" if alert.status == "firing" and alert.severity in ("critical", "error") else (
        "warning" if alert.status == "firing" else "info")
    record = base_record("alert", "error_monitor", level=level, stream="events")
    record.update({"rule": alert.rule, "key": alert.key, "status": alert.status, "severity": alert.severity,
                   "value": alert.value, "threshold": alert.threshold, "window_minutes": alert.window_minutes,
                   "summary": alert.summary, "dedup_key": alert.dedup_key, "dag_id": alert.dag_id,
                   "task_id": alert.task_id, "run_id": alert.run_id, "routed": routed})
    return record


class ErrorMonitorBridge:
    """Feeds the :class:`ThresholdStore` and publishes what it returns."""

    def __init__(self, store: ThresholdStore, write: Callable[[ListenerRecord], Any],
                 metric: Callable[[list[str]], None], line: Callable[..., str],
                 fail: Callable[[str, BaseException], None], route: RouteAlert | None = None) -> None:
        self.store = store
        self.route = route
        self._write, self._metric, self._line, self._fail = write, metric, line, fail
        self.published = 0

    def task_outcome(self, record: ListenerRecord) -> None:
        """Account a ``task_failed`` / ``task_up_for_retry`` event."""
        rule = {"failed": "dag_failures", "up_for_retry": "retry_storm"}.get(record.get("state") or "")
        if rule is None:
            return
        uid = "/".join(str(record.get(k)) for k in ("dag_id", "task_id", "run_id", "map_index", "try_number"))
        self.publish(self.store.record(rule, str(record["dag_id"]), uid, dag_id=record["dag_id"],
                                       task_id=record.get("task_id"), run_id=record.get("run_id"),
                                       detail=record.get("error_type")))

    def import_error(self, record: ListenerRecord) -> None:
        """Account a ``dag_import_error`` event (one occurrence per file and parse)."""
        filename = str(record.get("filename"))
        self.publish(self.store.record("import_errors", filename, f"{filename}/{record['ts']}",
                                       detail=record.get("error_type")))

    def dag_run_outcome(self, record: ListenerRecord) -> None:
        """Account a ``dag_run_success`` / ``dag_run_failed`` event."""
        state = record.get("state")
        if state in ("success", "failed"):
            dag_id, run_id = str(record["dag_id"]), str(record["run_id"])
            self.publish(self.store.dag_run_finished(dag_id, run_id, state == "failed"))

    def publish(self, alerts: list[Alert]) -> None:
        """Write, count and route each alert (firings and resolutions)."""
        for alert in alerts:
            routed = False
            if self.route is not None and self.store.settings.route_alerts and alert.dedup_key:
                try:
                    self.route(alert)
                    routed = True
                except Exception as exc:  # the router never raises; building its incident might
                    self._fail("alert_route", exc)
            self._write(alert_record(alert, routed))
            if alert.status == "firing":
                tags = {"rule": alert.rule, "dag_id": alert.dag_id}
                self._metric([self._line("error_monitor.alert", 1, "c", tags)])
            self.published += 1
