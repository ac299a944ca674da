"""What the DAG reference says about each DAG, read from the DAGs as Airflow builds them.

Schedules, owner, tags, tasks with their pool, queue and retries come from the parsed DAG objects
(:mod:`local_stack.dag_folder`); the datasets of each task from the lineage table (:data:`lineage.jobs.JOBS`,
keyed by the operator's entrypoint or the TaskFlow function); SLAs and runbook anchors from
``config/slas.yml`` (the same specs the DAGs' Deadline Alerts are built from).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from alerts.sla_config import SlaSpec, load_sla_config
from lineage.jobs import JOBS, job_datasets
from orchestration import tasks as taskflow
from orchestration.operators import PortfolioEntrypointOperator


@dataclass(frozen=True)
class RetryPolicy:
    """How often a task is retried and how long Airflow waits between tries."""

    retries: int
    delay: timedelta
    backoff: float = 0.0                 # the delay's multiplier per try (0: a fixed delay)
    max_delay: timedelta | None = None


@dataclass(frozen=True)
class TaskFacts:
    """One task of a DAG."""

    task_id: str
    operator: str                        # the class name, or ``@task``, ``@task.branch``... for TaskFlow tasks
    mapped: bool
    pool: str
    queue: str
    retry: RetryPolicy
    job: str | None                      # its row of the lineage table, if it reads or writes data
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    assets: tuple[str, ...]              # the Assets it updates (outlets)


@dataclass(frozen=True)
class DagFacts:
    """One DAG."""

    dag_id: str
    description: str
    cron: str | None
    timezone: str | None
    triggering_assets: tuple[str, ...]   # the DAG also runs when these Assets are updated
    owner: str
    tags: tuple[str, ...]
    max_active_runs: int
    catchup: bool
    tasks: tuple[TaskFacts, ...]
    deadline_alerts: tuple[str, ...]     # the names of the DAG's Deadline Alerts
    slas: tuple[SlaSpec, ...]


def lineage_job(task: Any) -> str | None:
    """The lineage table row a task reports, or ``None`` for a task that reads and writes no data."""
    cls = getattr(task, "operator_class", None) or type(task)  # a mapped task keeps its operator's class
    if isinstance(cls, type) and issubclass(cls, PortfolioEntrypointOperator):
        return cls.lineage_job_of_class()
    function = getattr(task, "python_callable", None)
    if function is not None and function.__module__ == taskflow.__name__:
        job = f"tasks.{function.__name__}"  # orchestration/tasks.py reports its datasets under this name
        return job if job in JOBS else None
    return None


def _asset_names(condition: Any) -> tuple[str, ...]:
    if condition is None:
        return ()
    if hasattr(condition, "uri"):
        return (str(condition.name),)
    return tuple(name for part in getattr(condition, "objects", ()) for name in _asset_names(part))


def _retry(task: Any) -> RetryPolicy:
    backoff = float(task.retry_exponential_backoff or 0)
    return RetryPolicy(int(task.retries or 0), task.retry_delay, backoff, task.max_retry_delay if backoff else None)


def task_facts(task: Any) -> TaskFacts:
    """The facts of one task (a plain, a TaskFlow or a mapped task)."""
    job = lineage_job(task)
    datasets = job_datasets(job) if job else None
    return TaskFacts(
        task_id=task.task_id, operator=task.operator_name, mapped=bool(getattr(task, "is_mapped", False)),
        pool=task.pool, queue=task.queue, retry=_retry(task), job=job,
        reads=datasets.reads if datasets else (), writes=datasets.writes if datasets else (),
        assets=tuple(sorted(str(a.name) for a in task.outlets if hasattr(a, "uri"))),
    )


def flow_order(dag: Any) -> list[Any]:
    """The tasks in a deterministic flow order: by their depth from the DAG's roots, then by task id."""
    depth: dict[str, int] = {}

    def depth_of(task_id: str) -> int:
        if task_id not in depth:
            upstream = dag.get_task(task_id).upstream_task_ids
            depth[task_id] = 1 + max((depth_of(u) for u in upstream), default=-1)
        return depth[task_id]

    return sorted(dag.tasks, key=lambda t: (depth_of(t.task_id), t.task_id))


def dag_facts(dag: Any, slas: list[SlaSpec]) -> DagFacts:
    """The facts of one parsed DAG and the SLAs configured for it."""
    timetable = dag.timetable
    cron_timetable = getattr(timetable, "timetable", timetable)  # AssetOrTimeSchedule wraps the cron timetable
    zone = getattr(cron_timetable, "timezone", None)
    return DagFacts(
        dag_id=dag.dag_id, description=dag.description or "",
        cron=getattr(cron_timetable, "expression", None),
        timezone=str(getattr(zone, "name", zone)) if zone is not None else None,
        triggering_assets=_asset_names(getattr(timetable, "asset_condition", None)),
        owner=dag.owner, tags=tuple(sorted(dag.tags)), max_active_runs=dag.max_active_runs, catchup=dag.catchup,
        tasks=tuple(task_facts(t) for t in flow_order(dag)),
        deadline_alerts=tuple(sorted(str(alert.name) for alert in dag.deadline or ())),
        slas=tuple(slas),
    )


def collect(dags: dict[str, Any]) -> list[DagFacts]:
    """The facts of every DAG, ordered by ``dag_id``."""
    config = load_sla_config()
    return [dag_facts(dags[dag_id], config.for_dag(dag_id)) for dag_id in sorted(dags)]
