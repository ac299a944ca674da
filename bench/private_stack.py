"""A private Airflow stack for a benchmark: its own home, free 127.0.0.1 ports, schedules off, StatsD off.

    with private_stack(root, settings={"scheduler.scheduler_idle_sleep_time": "0.2"}) as stack:
        ...

``settings`` override ``config/airflow.yml`` as ``section.key`` -> value (``AIRFLOW__SECTION__KEY``);
``celery_backend()`` gives the settings of the production scale path (PostgreSQL metadata, CeleryExecutor on Redis)
on throw-away databases of the machine's servers.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def synthetic_tickers(n: int) -> str:
    """``TK00,TK01,...``: ``n`` synthetic tickers for a run's conf."""
    return ",".join(f"TK{i:02d}" for i in range(n))


def timestamp(value: str | None) -> datetime | None:
    """An API timestamp (``...Z`` or ``+00:00``) as an aware datetime; ``None`` stays ``None``."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def run_seconds(run: dict[str, Any]) -> float:
    """A finished DAG run's trigger -> end (``queued_at`` -> ``end_date``): the poll interval does not count."""
    queued, end = timestamp(run.get("queued_at")), timestamp(run.get("end_date"))
    assert queued and end, run
    return (end - queued).total_seconds()


def airflow_env(settings: dict[str, str]) -> dict[str, str]:
    """``{"scheduler.x": "1"}`` -> ``{"AIRFLOW__SCHEDULER__X": "1"}``."""
    out = {}
    for key, value in settings.items():
        section, _, name = key.partition(".")
        if not name:
            raise SystemExit(f"--set {key}={value}: expected section.key=value")
        out[f"AIRFLOW__{section.upper()}__{name.upper()}"] = value
    return out


def parse_settings(pairs: list[str] | None) -> dict[str, str]:
    """``["scheduler.x=1"]`` -> ``{"scheduler.x": "1"}`` (the ``--set`` option of the benches)."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set {pair}: expected section.key=value")
        out[key.strip()] = value.strip()
    return out


def dag_bundle(path: Path) -> dict[str, str]:
    """The ``dag_processor.dag_bundle_config_list`` setting for one folder of DAGs (instead of ``dags/``)."""
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    return {"dag_processor.dag_bundle_config_list":
            json.dumps([{"name": path.name, "classpath": local, "kwargs": {"path": str(path)}}])}


@contextmanager
def celery_backend(concurrency: int) -> Iterator[dict[str, str]]:
    """Settings for PostgreSQL metadata (a new database on 127.0.0.1:5432) and CeleryExecutor with a Redis broker
    (a private ``redis-server`` on a free port) and ``concurrency`` worker slots; start the stack with the
    ``celery-worker`` component. On exit the broker is stopped and the database dropped."""
    import tempfile

    from local_stack import throwaway
    from local_stack.redis_server import RedisServer

    with tempfile.TemporaryDirectory(prefix="bench-redis-") as redis_dir:
        broker = RedisServer(Path(redis_dir))
        broker.up()
        try:
            database = throwaway.create_postgres_database("pmx_bench")
            try:
                yield {"database.sql_alchemy_conn": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}",
                       "core.executor": "CeleryExecutor",
                       "celery.broker_url": broker.url,
                       "celery.result_backend": f"db+postgresql://postgres@127.0.0.1:5432/{database}",
                       "celery.worker_concurrency": str(concurrency)}
            finally:
                throwaway.drop_postgres_database(database)
        finally:
            broker.down()


@contextmanager
def private_stack(root: Path, *, settings: dict[str, str] | None = None, dags: list[str] | None = None,
                  quiet: bool = False, components: tuple[str, ...] | None = None, env: dict[str, str] | None = None,
                  statsd: bool = False) -> Iterator[Any]:
    """Bootstrap and start a stack under ``root`` and wait for ``dags``; stop it on exit.

    ``components``: what to start (default: as ``make run``); ``env``: extra process environment (``PMX_*``);
    ``statsd``: the project's StatsD metrics on, sent to a socket of this process that drops them (no
    receiver's work, no ICMP errors). The stack's ``started_s`` attribute is the seconds from starting the
    components to healthy.
    """
    from local_stack.airflow_env import StackLayout
    from local_stack.run import bootstrap
    from local_stack.stack import DEFAULT_COMPONENTS, AirflowStack

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    layout = StackLayout(home=root / "airflow", api_port=free_port(), statsd_port=sink.getsockname()[1],
                         log_port=free_port(), trigger_log_port=free_port(), scheduler_health_port=free_port(),
                         pmx_home=root / "pmx", extra=airflow_env(settings or {}))
    stack = AirflowStack(layout, components=components or DEFAULT_COMPONENTS,
                         say=(lambda m: None) if quiet else (lambda m: print(f"  {m}", flush=True)))
    stack.env["PMX_STATSD_ENABLED"] = str(statsd).lower()
    stack.env.update(env or {})
    # unscheduled: unpausing a scheduled DAG would also start the run of its latest schedule, which would run
    # first (max_active_runs=1) and be counted in the wall time
    stack.env["PMX_SCHEDULES"] = "off"
    try:
        bootstrap(stack)
        began = time.monotonic()
        stack.start()
        stack.started_s = time.monotonic() - began
        if dags:
            stack.api.wait_for_dags(dags)
            for dag_id in dags:
                stack.api.set_paused(dag_id, False)
        yield stack
    finally:
        stack.stop()
        sink.close()
