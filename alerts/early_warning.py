"""Early warning before an SLA deadline, and the diagnosis every SLA page carries.

The outbox worker calls :meth:`EarlyWarning.check` every few seconds. For every deadline Airflow holds for a
queued or running run (the ``deadline`` rows of :mod:`alerts.deadlines`' callback), it projects the run's
finish from the task durations of its recent successful runs (:mod:`alerts.projection`). When the projection
passes ``deadline - warning margin``, it submits an ``sla_warning`` with the miss's own dedup key and a
diagnosis (:mod:`alerts.diagnosis`). The warning then ends one of two ways, on one thread:

* the run succeeds before its deadline: an ``sla_warning_cleared`` closes it where it went;
* the deadline passes: the ``sla_miss`` (same dedup key) supersedes it (``alerts.incident.SUPERSEDES``);
  PagerDuty folds the miss into the warning's alert, the miss says when it was warned about.

A warning is not withdrawn while the run is still going (no flapping). :meth:`EarlyWarning.diagnosed` adds the
diagnosis to a miss before the worker routes it, so the page says why.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from alerts.deadlines import CALLBACK_PATH, applies, sla_links
from alerts.diagnosis import Diagnosis, diagnose
from alerts.incident import Incident, sla_dedup_key, utc_now
from alerts.projection import Projection, project, typical_tasks
from alerts.recovery import OPEN_HORIZON_SECONDS
from alerts.router import submit, submit_effects
from alerts.run_facts import PendingDeadline, PoolUse, RunFact, RunFactSource
from alerts.times import as_datetime, format_duration, iso_z

if TYPE_CHECKING:
    from alerts.outbox import Outbox

HISTORY_RUNS = 10  # successful runs the usual task durations are taken from
HISTORY_TTL_SECONDS = 60.0  # a DAG's history and graph are re-read this often, and for every new run
CLOSE_AFTER = timedelta(hours=1)  # a warning whose run neither succeeded on time nor missed is closed silently
DIAGNOSED_KIND = "sla_miss"  # warnings carry their diagnosis from the start; misses get it before routing


def warning_incident(pending: PendingDeadline, projection: Projection, diagnosis: Diagnosis, now: datetime,
                     channels: list[str], links: dict[str, str]) -> Incident:
    """The ``sla_warning`` of a run projected to finish after ``deadline - margin`` (pure)."""
    kw = pending.kwargs
    sla = str(kw["sla"])
    after = (projection.finish - pending.deadline).total_seconds()
    relation = f"{format_duration(after)} after" if after > 0 else f"{format_duration(-after)} before"
    lead = (pending.deadline - now).total_seconds()
    summary = (f"SLA {sla} at risk: {pending.dag_id} run {pending.run_id} is projected to finish at "
               f"{iso_z(projection.finish)}, {relation} its deadline {iso_z(pending.deadline)} "
               f"({format_duration(lead)} from now)")
    details = {
        "sla": sla, "deadline": iso_z(pending.deadline), "projected_finish": iso_z(projection.finish),
        "warning_margin_seconds": kw.get("warning_margin_seconds"), "lead_seconds": round(lead, 1),
        "sla_severity": kw.get("severity"), "diagnosis": diagnosis.text, "diagnosis_facts": diagnosis.facts,
        "description": kw.get("description") or "", "detected_at": iso_z(now),
    }
    if channels:
        details["channels"] = channels
    return Incident(kind="sla_warning", dedup_key=sla_dedup_key(pending.dag_id, sla, pending.run_id),
                    severity="warning", summary=summary, details=details, dag_id=pending.dag_id,
                    run_id=pending.run_id, links=links, created_at=now)


def cleared_incident(warning: Incident, end: datetime) -> Incident:
    """The ``sla_warning_cleared`` of a warned run that succeeded before its deadline (same dedup key)."""
    deadline = as_datetime(warning.deadline)
    spare = (deadline - end).total_seconds() if deadline else 0.0
    return Incident(
        kind="sla_warning_cleared", dedup_key=warning.dedup_key, severity=warning.severity,
        summary=(f"SLA {warning.sla} early warning cleared: {warning.dag_id} run {warning.run_id} finished at "
                 f"{iso_z(end)}, {format_duration(spare)} before its deadline {warning.deadline}"),
        details={"sla": warning.sla, "deadline": warning.deadline, "finished_at": iso_z(end),
                 "warned_at": iso_z(warning.created_at)},
        dag_id=warning.dag_id, run_id=warning.run_id, links=dict(warning.links), created_at=utc_now(),
    )


class EarlyWarning:
    """Projects running runs against their deadlines; keeps each run's view of its DAG's history for a minute."""

    def __init__(self, facts: RunFactSource, outbox: Outbox, routing: dict[str, list[str]], ui_base: str,
                 runbook_base: str, submit: Callable[[Incident], None] = submit) -> None:
        self.facts, self.outbox, self.routing, self.submit = facts, outbox, routing, submit
        self.ui_base, self.runbook_base = ui_base, runbook_base
        self._history: dict[tuple[str, str], tuple[float, list[RunFact], dict[str, list[str]]]] = {}

    def _dag_history(self, run: RunFact) -> tuple[list[RunFact], dict[str, list[str]]]:
        """The DAG's history and graph as read for this run (re-read after a minute; concurrent runs of one DAG
        each keep their own, instead of evicting each other on every check)."""
        now, key = time.monotonic(), (run.dag_id, run.run_id)
        cached = self._history.get(key)
        if cached is None or now - cached[0] > HISTORY_TTL_SECONDS:
            self._history = {k: v for k, v in self._history.items() if now - v[0] <= HISTORY_TTL_SECONDS}
            cached = (now, self.facts.history(run.dag_id, HISTORY_RUNS), self.facts.upstream(run.dag_id))
            self._history[key] = cached
        return cached[1], cached[2]

    def projection(self, run: RunFact, now: datetime, pools: dict[str, PoolUse]) -> Projection:
        """``run``'s projected finish at ``now`` from its DAG's recent successful runs and the pools' queues."""
        history, upstream = self._dag_history(run)
        return project(run, upstream, typical_tasks(history, upstream), now, len(history), pools)

    def check(self, now: datetime | None = None) -> int:
        """Submit an ``sla_warning`` for every run projected past its deadline minus margin; return how many."""
        now = now or utc_now()
        count = 0
        pools: dict[str, PoolUse] | None = None
        for pending in self.facts.pending_deadlines(CALLBACK_PATH):
            kw = pending.kwargs
            margin = kw.get("warning_margin_seconds")
            if not margin or not kw.get("sla") or now >= pending.deadline:
                continue
            if not applies(str(kw.get("variant")), pending.run_type):
                continue
            key = sla_dedup_key(pending.dag_id, str(kw["sla"]), pending.run_id)
            if self.outbox.find("sla_warning", key) or self.outbox.find("sla_miss", key):
                continue
            run = self.facts.run(pending.dag_id, pending.run_id)
            if run is None or run.state not in ("queued", "running"):
                continue
            pools = self.facts.pools() if pools is None else pools
            projection = self.projection(run, now, pools)
            if projection.finish <= pending.deadline - timedelta(seconds=float(margin)):
                continue
            channels = list(kw.get("channels") or self.routing.get(str(kw.get("severity")), []))
            incident = warning_incident(pending, projection, diagnose(run, projection, pools, now),
                                        now, channels,
                                        sla_links(pending.dag_id, pending.run_id, str(kw.get("runbook") or ""),
                                                  self.ui_base, self.runbook_base))
            self.submit(incident)
            count += 1
        return count

    def clear(self, now: datetime | None = None) -> int:
        """Clear warnings whose run succeeded before its deadline; close stale ones silently; return cleared."""
        now = now or utc_now()
        cleared = 0
        for row in self.outbox.open_incidents("sla_warning", time.time() - OPEN_HORIZON_SECONDS):
            warning = Incident.from_json(row["payload"])
            run = self.facts.run(row["dag_id"], row["run_id"])
            deadline = as_datetime(warning.deadline)
            end = run.end if run is not None else None
            if run is not None and run.state == "success" and end and deadline and end <= deadline:
                resolution = cleared_incident(warning, end)
                resolution_id = self.outbox.resolve_incident(row["id"], resolution)
                if resolution_id is not None:
                    submit_effects(resolution, resolution_id, True)
                    cleared += 1
            elif run is None or (deadline is not None and now > deadline + CLOSE_AFTER):
                self.outbox.resolve_incident(row["id"])
        return cleared

    def diagnosed(self, incident: Incident, now: datetime | None = None) -> Incident:
        """``incident`` (an SLA miss) with the diagnosis of its run and when it was warned about, if it was."""
        if incident.kind != DIAGNOSED_KIND or "diagnosis" in incident.details or not incident.run_id:
            return incident
        run = self.facts.run(str(incident.dag_id), incident.run_id)
        if run is None:
            return incident
        now = now or utc_now()
        pools = self.facts.pools()
        projection = self.projection(run, now, pools)
        diagnosis = diagnose(run, projection, pools, now)
        details = {**incident.details, "diagnosis": diagnosis.text, "diagnosis_facts": diagnosis.facts}
        warning = self.outbox.find("sla_warning", incident.dedup_key)
        if warning is not None:
            warned = Incident.from_json(warning["payload"])
            deadline = as_datetime(incident.deadline)
            details["warned_at"] = iso_z(warned.created_at)
            if deadline is not None:
                details["warned_seconds_before_deadline"] = round((deadline - warned.created_at).total_seconds(), 1)
        return dataclasses.replace(incident, details=details)
