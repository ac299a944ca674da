"""DAG and task defaults derived from ``config/orchestration.yml`` so DAG files only declare structure."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable

from alerts.deadlines import deadlines_for_dag
from orchestration.config import load_orchestration
from orchestration.dead_letters import record_dead_letter

START_DATE = datetime(2026, 1, 1)
BACKOFF_MULTIPLIER = 2.0


def retry_args(task_type: str) -> dict[str, Any]:
    """``retries``/``retry_delay``/backoff arguments for one task type (``extract``, ``load``, ...)."""
    spec = load_orchestration().retries[task_type]
    args: dict[str, Any] = {"retries": spec.retries, "retry_delay": timedelta(seconds=spec.delay_seconds)}
    if spec.max_delay_seconds:
        args["retry_exponential_backoff"] = BACKOFF_MULTIPLIER
        args["max_retry_delay"] = timedelta(seconds=spec.max_delay_seconds)
    return args


def pool_args(pool: str) -> dict[str, Any]:
    """``pool`` and the Celery ``queue`` its tasks go to (``pools.<pool>.queue``)."""
    return {"pool": pool, "queue": load_orchestration().pools[pool].queue}


def schedules_enabled() -> bool:
    """False when ``PMX_SCHEDULES=off``: every DAG is parsed without a schedule, so manual runs are the only runs.

    ``make run`` sets it: unpausing a scheduled DAG makes the scheduler also start the run of its latest past
    schedule (``catchup=False`` keeps exactly that one), which would race the one-shot run for the same bars.
    """
    value = os.environ.get("PMX_SCHEDULES", "on").strip().lower()
    if value not in ("on", "off"):
        raise ValueError(f"PMX_SCHEDULES={value!r}: expected 'on' or 'off'")
    return value == "on"


def dag_kwargs(dag_id: str, *, also_on_assets: list[Asset] | None = None, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``DAG(...)``: schedule in New York time, tags, owner, retries, dead letters.

    ``also_on_assets`` adds data-aware runs: the DAG runs on its cron *and* when any of the Assets is updated.
    """
    import pendulum

    cfg = load_orchestration()
    spec = cfg.dags[dag_id]
    timetable = CronTriggerTimetable(spec.schedule, timezone=cfg.timezone)
    schedule: Any = AssetOrTimeSchedule(timetable=timetable, assets=also_on_assets) if also_on_assets else timetable
    kwargs: dict[str, Any] = {
        "dag_id": dag_id,
        "description": spec.description,
        "schedule": schedule if schedules_enabled() else None,
        "start_date": pendulum.instance(START_DATE, tz=cfg.timezone),
        "catchup": False,
        "max_active_runs": spec.max_active_runs,
        "tags": ["portfolio", *spec.tags],
        "default_args": {"owner": cfg.owner, "on_failure_callback": record_dead_letter, **retry_args("control")},
        "doc_md": f"**{dag_id}**: {spec.description}. Schedule `{spec.schedule}` ({cfg.timezone}). "
                  "See docs/dag_reference.md.",
        "deadline": deadlines_for_dag(dag_id),  # SLAs from config/slas.yml (docs/slas.md)
    }
    kwargs.update(overrides)
    return kwargs


def mapped_limits() -> dict[str, Any]:
    """Per-task concurrency limit for mapped per-ticker tasks."""
    return {"max_active_tis_per_dag": load_orchestration().mapping.max_active_tis_per_dag}
