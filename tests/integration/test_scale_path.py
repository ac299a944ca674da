"""The production scale path for real: PostgreSQL metadata database, CeleryExecutor with a Redis broker and a
Celery worker, with the project's plugin, pools and DAGs unchanged, and OpenLineage over HTTP to an endpoint
speaking Marquez's (what ``deploy/docker-compose.yml`` runs).

Uses the PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) of the machine: a throw-away database and an
empty Redis database index, both removed afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.pipeline_logger import read_events
from lineage.transport import guarded, http_transport
from local_stack.airflow_env import StackLayout
from local_stack.stack import AirflowStack
from local_stack.throwaway import REDIS_HOST, REDIS_PORT
from tests.integration.lineage_receiver import LineageReceiver
from tests.integration.stack_support import copy_test_config, dag_bundles
from tests.support import create_postgres_database, drop_postgres_database, empty_redis_db, free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # see tests/wait_budget.py

CONF = {"execution_mode": "synthetic", "tickers": "AAPL,MSFT", "start_date": "2024-01-02"}


@pytest.fixture(scope="module")
def marquez() -> Iterator[LineageReceiver]:
    """The lineage endpoint the stack's OpenLineage transport sends to (as deploy/ sends to Marquez)."""
    receiver = LineageReceiver(free_port())
    receiver.serve()
    yield receiver
    receiver.go_down()


@pytest.fixture(scope="module")
def celery_stack(tmp_path_factory: pytest.TempPathFactory,
                 marquez: LineageReceiver) -> Iterator[tuple[AirflowStack, str, object]]:
    """A second, private stack on PostgreSQL + CeleryExecutor (its own ports, home and databases)."""
    database = create_postgres_database("pmx_scale")
    broker, broker_db = empty_redis_db()
    root = tmp_path_factory.mktemp("scale")
    config_dir = copy_test_config(root / "config")
    sql_conn = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"
    layout = StackLayout(
        home=root / "airflow", api_port=free_port(), statsd_port=free_port(), log_port=free_port(),
        trigger_log_port=free_port(), scheduler_health_port=free_port(), pmx_home=root / "pmx",
        extra={"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_conn,
               "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
               "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{broker_db}",
               "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@127.0.0.1:5432/{database}",
               "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
               "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": dag_bundles(),
               "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
               "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
               "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(guarded(http_transport(marquez.url)))},
    )
    stack = AirflowStack(layout, components=("api-server", "scheduler", "dag-processor", "celery-worker"),
                         extra_env={"PMX_CONFIG_DIR": str(config_dir), "PMX_LOG_DIR": str(root / "pmx" / "logs"),
                                    "PMX_SCHEDULES": "off"})
    try:
        from local_stack.run import bootstrap

        bootstrap(stack)
        stack.start()
        yield stack, database, broker
    finally:
        stack.stop()
        broker.flushdb()  # type: ignore[attr-defined]
        drop_postgres_database(database)


def _run(stack: AirflowStack, dag_id: str, conf: dict[str, str] | None = None) -> tuple[str, dict[str, object]]:
    stack.api.wait_for_dags([dag_id])
    stack.api.set_paused(dag_id, False)
    run_id = stack.api.trigger(dag_id, conf=conf)
    return run_id, stack.api.wait_for_run(dag_id, run_id, timeout=420)


def test_daily_etl_runs_green_on_postgres_and_celery(celery_stack: tuple[AirflowStack, str, object]) -> None:
    import psycopg2

    stack, database, broker = celery_stack
    run_id, run = _run(stack, "daily_etl", CONF)
    tis = stack.api.task_instances("daily_etl", run_id)
    assert run["state"] == "success", [(t["task_id"], t["map_index"], t["state"]) for t in tis]
    states = {(t["task_id"], t["map_index"]): t["state"] for t in tis}
    assert states.pop(("etl.retry_failed", -1)) == "skipped"  # no ticker failed
    assert set(states.values()) == {"success"}
    assert {k[1] for k in states if k[0] == "etl.batch"} == {0}  # mapped per batch of tickers
    worker_log = (stack.log_dir / "celery-worker.log").read_text(errors="replace").splitlines()
    executed = [line for line in worker_log if "Executing workload in Celery" in line and f"run_id={run_id}/" in line]
    assert len(executed) >= len(states)  # every task instance that ran, ran on the Celery worker

    # The run lives in the PostgreSQL metadata database, and its tasks went through the Redis broker.
    with psycopg2.connect(f"host=127.0.0.1 user=postgres dbname={database}") as conn, conn.cursor() as cur:
        cur.execute("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", ("daily_etl", run_id))
        assert cur.fetchall() == [("success",)]
        cur.execute("SELECT count(*) FROM task_instance WHERE dag_id = %s AND run_id = %s AND state = 'success'",
                    ("daily_etl", run_id))
        assert cur.fetchone()[0] == len(states)
    assert broker.keys("_kombu.binding.*")  # type: ignore[attr-defined]  # the queues Celery declared


def test_the_listener_reports_celery_tasks(celery_stack: tuple[AirflowStack, str, object]) -> None:
    stack, _, _ = celery_stack
    run_id, run = _run(stack, "stack_smoke")
    assert run["state"] == "success"
    log_dir = Path(stack.env["PMX_LOG_DIR"]) / "pipeline"
    events = [e for stream in ("pipeline", "events") for e in read_events(log_dir, stream)  # type: ignore[arg-type]
              if e.get("component") == "listener" and e.get("run_id") == run_id]
    assert {e["event"] for e in events} >= {"task_running", "task_success", "dag_run_running", "dag_run_success"}


@pytest.mark.timeout(1500)
def test_lineage_reaches_the_marquez_endpoint_and_losing_it_fails_no_task(
        celery_stack: tuple[AirflowStack, str, object], marquez: LineageReceiver) -> None:
    """The master run's events go over the shipped HTTP transport (timeout, retries) to the endpoint; the endpoint
    goes down mid-run: the run stays green and every lost event is counted (component=lineage, reason=transport);
    once it is back, the next run's events arrive again."""
    from tests.unit.lineage._spec import event_errors

    stack, _, _ = celery_stack
    stack.api.wait_for_dags(["portfolio_master", "stack_smoke"])
    for dag_id in ("portfolio_master", "stack_smoke"):
        stack.api.set_paused(dag_id, False)
    run_id = stack.api.trigger("portfolio_master", conf=CONF)

    def a_task_completed() -> list[dict]:
        return [e for e in marquez.received() if e["eventType"] == "COMPLETE"
                and e["run"]["facets"].get("parent", {}).get("job", {}).get("name") == "portfolio_master"]

    wait_for(a_task_completed, 240, "a COMPLETE event of a master task at the endpoint")
    marquez.go_down()
    run = stack.api.wait_for_run("portfolio_master", run_id, timeout=420)
    tis = stack.api.task_instances("portfolio_master", run_id)
    assert run["state"] == "success", [(t["task_id"], t["map_index"], t["state"]) for t in tis]
    assert all(t["try_number"] <= 1 for t in tis), "no task was retried because of lineage"

    received = marquez.received()
    assert marquez.rejected == 0
    assert [f"{e['job']['name']}: {err}" for e in received for err in event_errors(e)] == []
    log_dir = Path(stack.env["PMX_LOG_DIR"]) / "pipeline"
    lost = [e for stream in ("pipeline", "events") for e in read_events(log_dir, stream)  # type: ignore[arg-type]
            if e.get("event") == "observability_failure" and e.get("component_failed") == "lineage"]
    assert lost and {e["reason"] for e in lost} == {"transport"}, lost[:3]
    assert {e["dag_id"] for e in lost if e.get("dag_id")} <= {"portfolio_master"}

    marquez.serve()
    smoke_id = stack.api.trigger("stack_smoke")
    assert stack.api.wait_for_run("stack_smoke", smoke_id, timeout=240)["state"] == "success"
    wait_for(lambda: [e for e in marquez.received() if e["eventType"] == "COMPLETE"
                      and e["job"]["name"].startswith("stack_smoke.")], 60, "stack_smoke's events after the restart")
