"""SLA spec -> Airflow Deadline Alerts, and the deadline callback that hands a miss to the router.

Parse-cheap: building the alerts imports only ``airflow.sdk`` and reads the cached SLA config; no DB, no
network. The callback runs in the triggerer (``AsyncCallback``) and does one SQLite write; delivery happens in
the outbox worker.

Which alert applies to which run (``variant``):

* ``scheduled``   - ``DAGRUN_LOGICAL_DATE + budget``; scheduled runs only.
* ``unscheduled`` - queued time (:class:`alerts.references.RunQueuedAt`) + manual budget; runs without a
  schedule slot (manual, asset).
  Airflow skips logical-date deadlines for runs whose logical date is null, so without it a manual run
  would have no SLA at all.
* ``all``         - queued / average-runtime references; every run type except backfills.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

from alerts.incident import Incident, sla_dedup_key, utc_now
from alerts.runbooks import runbook_url
from alerts.sla_details import SlaMissDetails
from alerts.times import as_datetime, format_duration, iso_z

if TYPE_CHECKING:
    from airflow.sdk import DeadlineAlert  # type: ignore[attr-defined]

    from alerts.sla_config import SlaSpec

CALLBACK_PATH = "alerts.deadlines.on_deadline_missed"
NO_SLA_RUN_TYPES = frozenset({"backfill"})


def deadline_alerts(spec: SlaSpec) -> list[DeadlineAlert]:
    """The Deadline Alerts implementing one SLA (two for schedule-anchored SLAs: scheduled + manual runs)."""
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference  # type: ignore[attr-defined]

    from alerts.references import RunQueuedAt

    def alert(reference: Any, budget: Any, variant: str, label: str) -> DeadlineAlert:
        kwargs = {
            "sla": spec.name,
            "dag_id": spec.dag_id,
            "severity": spec.severity,
            "variant": variant,
            "reference": spec.reference,
            "budget_seconds": budget.total_seconds(),
            "at": spec.at,
            "timezone": spec.timezone,
            "channels": list(spec.channels or []),
            "runbook": spec.runbook,
            "description": spec.description,
            "warning_margin_seconds": _seconds(spec.warning_margin_for(budget)),
        }
        return DeadlineAlert(
            reference=reference,
            interval=budget,
            name=f"{spec.name} ({label})",
            callback=AsyncCallback(CALLBACK_PATH, kwargs=kwargs),
        )

    if spec.reference in ("scheduled", "time_of_day"):
        return [
            alert(DeadlineReference.DAGRUN_LOGICAL_DATE, spec.budget, "scheduled", "scheduled runs"),
            alert(RunQueuedAt(), spec.manual_budget, "unscheduled", "manual runs"),
        ]
    if spec.reference == "queued":
        return [alert(RunQueuedAt(), spec.budget, "all", "every run")]
    reference = DeadlineReference.AVERAGE_RUNTIME(max_runs=spec.max_runs, min_runs=spec.min_runs)
    return [alert(reference, spec.budget, "all", "every run")]


def _seconds(value: Any) -> float | None:
    return value.total_seconds() if value is not None else None


def deadlines_for_dag(dag_id: str) -> list[DeadlineAlert] | None:
    """The public API for DAG files: ``DAG(..., deadline=deadlines_for_dag("my_dag"))``.

    Deadline Alerts for every SLA of ``dag_id`` in ``slas.yml`` of ``PMX_CONFIG_DIR`` (None when it has none,
    or when alerting is switched off: :func:`alerts.switch.alerts_enabled`). Works for any DAG, ours or not;
    a broken ``slas.yml`` raises :class:`foundation.config_loader.ConfigError`, an import error of the DAG file.
    """
    from alerts.sla_config import load_sla_config
    from alerts.switch import alerts_enabled

    if not alerts_enabled():
        return None
    alerts = [a for spec in load_sla_config().for_dag(dag_id) for a in deadline_alerts(spec)]
    return alerts or None


def applies(variant: str, run_type: str | None) -> bool:
    """Whether an alert of ``variant`` counts for a run of ``run_type``."""
    if run_type in NO_SLA_RUN_TYPES:
        return False
    if variant == "scheduled":
        return run_type == "scheduled"
    if variant == "unscheduled":
        return run_type != "scheduled"
    return True


def _rule_text(kw: dict[str, Any]) -> str:
    budget = format_duration(float(kw.get("budget_seconds") or 0))
    if kw.get("variant") == "unscheduled":
        return f"within {budget} of being queued (manual run)"
    if kw.get("reference") == "time_of_day":
        return f"by {kw.get('at')} {kw.get('timezone')}"
    if kw.get("reference") == "scheduled":
        return f"within {budget} of its scheduled time"
    if kw.get("reference") == "average_runtime":
        return f"within its average runtime + {budget}"
    return f"within {budget} of being queued"


def sla_links(dag_id: str, run_id: str, runbook: str, ui_base: str, runbook_base: str) -> dict[str, str]:
    """The links of an SLA page (miss or early warning): the run, the runbook (a relative anchor hangs off
    ``runbook_base``), the SLA-misses view of the DAG."""
    return {
        "run": f"{ui_base}/dags/{dag_id}/runs/{run_id}",
        "runbook": runbook_url(runbook, runbook_base),
        "sla_misses": f"{ui_base}/pmx-sla/ui?dag_id={dag_id}",
    }


def build_miss_incident(
    context: dict[str, Any], kw: dict[str, Any], ui_base: str, runbook_base: str,
    downtime: tuple[datetime, datetime] | None = None,
) -> Incident:
    """The ``sla_miss`` incident for one missed deadline (pure: no I/O); ``downtime``: the stack was down."""
    run = context.get("dag_run") or {}
    dag_id = str(run.get("dag_id") or kw["dag_id"])
    run_id = str(run.get("dag_run_id") or run.get("run_id") or "unknown-run")
    deadline = as_datetime((context.get("deadline") or {}).get("deadline_time"))
    now = utc_now()
    sla = str(kw["sla"])
    runbook = kw.get("runbook") or ""
    links = sla_links(dag_id, run_id, runbook, ui_base, runbook_base)
    details: SlaMissDetails = {
        "sla": sla,
        "deadline": iso_z(deadline),
        "reference": kw.get("reference"),
        "variant": kw.get("variant"),
        "budget_seconds": kw.get("budget_seconds"),
        "run_type": run.get("run_type"),
        "logical_date": run.get("logical_date"),
        "queued_at": run.get("queued_at"),
        "start_date": run.get("start_date"),
        "run_state_at_miss": run.get("state"),
        "detected_at": iso_z(now),
        "description": kw.get("description") or "",
        "runbook": links["runbook"],
        "detection_delay_seconds": round((now - deadline).total_seconds(), 3) if deadline else None,
    }
    if kw.get("channels"):
        details["channels"] = list(kw["channels"])
    summary = f"SLA {sla} missed: {dag_id} run {run_id} not finished {_rule_text(kw)}" + (
        f" (deadline {iso_z(deadline)})" if deadline else ""
    )
    if downtime:
        details["downtime"] = {"from": iso_z(downtime[0]), "until": iso_z(downtime[1])}
        summary += (f"; the stack was down from {iso_z(downtime[0])} to {iso_z(downtime[1])}, "
                    f"this is the catch-up run of the missed slot")
    return Incident(
        kind="sla_miss",
        dedup_key=sla_dedup_key(dag_id, sla, run_id),
        severity=kw.get("severity", "error"),
        summary=summary,
        details=dict(details),
        dag_id=dag_id,
        run_id=run_id,
        links=links,
        created_at=now,
    )


def _link_bases() -> tuple[str, str]:
    try:
        from alerts.alerting_config import load_alerting
        from alerts.sla_config import runbook_base

        return load_alerting().link_base(), runbook_base()
    except Exception:
        return "http://127.0.0.1:8080", "http://127.0.0.1:8080/pmx-sla/runbook"


def handle_deadline_miss(context: dict[str, Any], kw: dict[str, Any]) -> str:
    """Record the miss in the outbox (or explain why it does not apply); raise only if it cannot be stored."""
    from alerts.outbox import Outbox
    from foundation.failures import report_failure
    from foundation.pipeline_logger import get_logger

    run = context.get("dag_run") or {}
    if not applies(str(kw.get("variant")), run.get("run_type")):
        get_logger("alerts").log_event(
            "sla_deadline_not_applicable",
            sla=kw.get("sla"),
            dag_id=run.get("dag_id"),
            run_id=run.get("dag_run_id"),
            run_type=run.get("run_type"),
            variant=kw.get("variant"),
        )
        return f"not applicable: variant {kw.get('variant')} vs run type {run.get('run_type')}"
    catch_up = _catch_up(run, context)
    if not catch_up.paged:
        get_logger("alerts").log_event(
            "sla_catch_up_not_paged",
            sla=kw.get("sla"),
            dag_id=run.get("dag_id"),
            run_id=run.get("dag_run_id"),
            deadline=iso_z(as_datetime((context.get("deadline") or {}).get("deadline_time"))),
            reason="fresh install: the slot's deadline passed before the stack first ran",
        )
        return f"not paged: {catch_up.verdict} (catch-up run of a slot from before the stack first ran)"
    ui_base, runbook_base = _link_bases()
    downtime = (catch_up.down_from, catch_up.down_until) if catch_up.verdict == "downtime" else None
    incident = build_miss_incident(context, kw, ui_base, runbook_base, downtime)
    try:
        incident_id, created = Outbox().add_incident(incident)
    except Exception as exc:
        report_failure("alerts", "deadline_callback", exc, level="error", kind=incident.kind,
                       dedup_key=incident.dedup_key, dag_id=incident.dag_id)
        raise  # Airflow records the callback as failed (visible in the UI and in its callback metrics)
    from alerts.router import submit_effects

    submit_effects(incident, incident_id, created)
    return f"recorded {incident.dedup_key} as incident {incident_id}"


def _catch_up(run: dict[str, Any], context: dict[str, Any]) -> Any:
    """The fresh-install / downtime verdict (``alerts.catch_up``); a miss is paged when it cannot be judged."""
    from alerts.catch_up import CatchUp, judge

    try:
        from alerts.alerting_config import load_alerting
        from alerts.outbox import Outbox

        outage_after = load_alerting().worker.outage_after_seconds
        deadline = (context.get("deadline") or {}).get("deadline_time")
        return judge(run, deadline, Outbox().liveness(), utc_now(), outage_after)
    except Exception as exc:
        from foundation.failures import report_failure

        report_failure("alerts", "catch_up_check", exc, level="error", kind="sla_miss", dag_id=run.get("dag_id"))
        return CatchUp("on_time_run")


async def on_deadline_missed(context: dict[str, Any] | None = None, **kwargs: Any) -> str:
    """``AsyncCallback`` target: runs in the triggerer when a deadline passes (SQLite write off the loop)."""
    return await asyncio.to_thread(handle_deadline_miss, context or {}, kwargs)
