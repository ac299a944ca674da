"""The production scale path for real, on this machine as on several hosts: PostgreSQL metadata, CeleryExecutor on a
Redis broker, and **two Celery workers that share nothing but the servers**: each has its own ``PMX_HOME`` (JSON
events, caches, staging) and its own queues (``a``: default + gpu, ``b``: default + trading), and runs its own
alert-outbox worker. Everything that must be global lives in PostgreSQL: the trading database
(``PORTFOLIO_DB_DSN``), the alert outbox and the error monitor's thresholds (``PMX_ALERTS_OUTBOX_DSN``,
``PMX_ERROR_MONITOR_DSN``). OpenLineage goes over HTTP to an endpoint speaking Marquez's (what ``deploy/`` runs).

Faults survived: Redis restarted mid-run, the scheduler restarted mid-run, a worker killed (``kill -9``) mid-task.

Uses the machine's PostgreSQL (127.0.0.1:5432: three throw-away databases) and a private ``redis-server`` on a free
port (append-only file on, as ``deploy/docker-compose.yml`` runs it), all removed afterwards.
"""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from foundation.pipeline_logger import read_events
from lineage.transport import guarded, http_transport
from local_stack.airflow_env import StackLayout
from local_stack.redis_server import RedisServer
from local_stack.stack import AirflowStack
from tests.harness.receivers import MarquezStandIn, PagerDutyStandIn, SlackStandIn, make_tls
from tests.integration.sla_support import dedup, put_connection, short_retries
from tests.integration.stack_support import copy_test_config, dag_bundles
from tests.support import create_postgres_database, drop_postgres_database, free_port, require, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]  # see tests/wait_budget.py

CONF = {"execution_mode": "synthetic", "tickers": "AAPL,MSFT", "start_date": "2024-01-02"}
WORKERS = {"a": "default,gpu", "b": "default,trading"}
PG = "host=127.0.0.1 port=5432 user=postgres"
HEARTBEAT_TIMEOUT = 20  # [scheduler] task_instance_heartbeat_timeout here (shipped: Airflow's 300 s)


@dataclass
class Scale:
    """The stack and what the tests look at."""

    stack: AirflowStack
    metadata_db: str
    state_dsn: str
    domain_dsn: str
    redis: RedisServer
    marquez: MarquezStandIn
    slack: SlackStandIn
    pd: PagerDutyStandIn
    homes: dict[str, Path] = field(default_factory=dict)  # host -> PMX_HOME ("control": scheduler & co.)

    def events(self, **match: Any) -> list[dict[str, Any]]:
        """The JSON events of every host (each keeps its own: a log shipper's job in production)."""
        out = []
        for home in self.homes.values():
            for stream in ("pipeline", "events"):
                out += [e for e in read_events(home / "logs" / "pipeline", stream)  # type: ignore[arg-type]
                        if all(e.get(k) == v for k, v in match.items())]
        return out

    def ran_on(self, worker: str, run_id: str) -> int:
        """How many task tries of ``run_id`` worker ``worker`` executed (its Celery log)."""
        log = self.stack.log_dir / f"celery-worker@{worker}.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return sum(1 for line in text.splitlines()
                   if "Executing workload in Celery" in line and f"run_id={run_id}/" in line)

    def finish_run(self, dag_id: str, conf: dict[str, Any] | None = None, timeout: float = 420) -> tuple[str, dict]:
        self.stack.api.set_paused(dag_id, False)
        run_id = self.stack.api.trigger(dag_id, conf=conf)
        return run_id, self.stack.api.wait_for_run(dag_id, run_id, timeout=timeout)

    def query(self, dsn: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg2

        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scale]:
    """The two-worker stack (its own ports, homes, databases and broker)."""
    root = tmp_path_factory.mktemp("scale")
    databases = [create_postgres_database(prefix) for prefix in ("pmx_scale", "pmx_state", "pmx_domain")]
    metadata, state, domain = databases
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    redis = RedisServer(root / "redis")
    tls, ca = make_tls(root / "tls")
    marquez, slack, pd = MarquezStandIn().start(), SlackStandIn().start(), PagerDutyStandIn(tls=tls).start()
    config_dir = copy_test_config(root / "config", backtest=False)  # ~16 s of model replay per report
    short_retries(config_dir)
    homes = {"control": root / "pmx", **{w: root / f"worker-{w}" / "pmx" for w in WORKERS}}
    stores = {"PORTFOLIO_DB_DSN": f"{PG} dbname={domain}", "PMX_ALERTS_OUTBOX_DSN": f"{PG} dbname={state}",
              "PMX_ERROR_MONITOR_DSN": f"{PG} dbname={state}"}
    layout = StackLayout(
        home=root / "airflow", api_port=free_port(), statsd_port=free_port(), log_port=free_port(),
        trigger_log_port=free_port(), scheduler_health_port=free_port(), pmx_home=homes["control"],
        extra={"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{metadata}",
               "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
               "AIRFLOW__CELERY__BROKER_URL": redis.url,
               "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@127.0.0.1:5432/{metadata}",
               "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
               "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": dag_bundles(),
               "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
               "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
               "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
               "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(guarded(http_transport(marquez.url)))},
    )
    host_env = {w: {"PMX_HOME": str(homes[w]), "PMX_LOG_DIR": str(homes[w] / "logs"),
                    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(homes[w].parent / "airflow-logs"),
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())} for w in WORKERS}
    workers = tuple(f"celery-worker@{w}" for w in WORKERS)
    outbox_workers = tuple(f"alerts-worker@{w}" for w in WORKERS)
    stack = AirflowStack(
        layout, components=("api-server", "scheduler", "dag-processor", "triggerer", *workers, *outbox_workers),
        extra_env={"PMX_CONFIG_DIR": str(config_dir), "PMX_LOG_DIR": str(homes["control"] / "logs"),
                   "PMX_SCHEDULES": "off", **stores},
        component_env={**{f"celery-worker@{w}": e for w, e in host_env.items()},
                       **{f"alerts-worker@{w}": e for w, e in host_env.items()}},
        component_args={f"celery-worker@{w}": ["--queues", queues, "--celery-hostname", f"{w}@%h"]
                        for w, queues in WORKERS.items()},
    )
    env = Scale(stack, metadata, f"{PG} dbname={state}", f"{PG} dbname={domain}", redis, marquez, slack, pd, homes)
    try:
        redis.up()
        from local_stack.run import bootstrap

        bootstrap(stack)
        stack.start()
        put_connection(stack, "slack_alerts", "slack", slack.token, {"base_url": slack.api_url})
        put_connection(stack, "pagerduty_events", "pagerduty_events", pd.routing_key,
                       {"base_url": pd.url, "ca_bundle": str(ca)})
        stack.api.wait_for_dags(["daily_etl", "portfolio_master", "stack_smoke", "scale_out_failures",
                                 "scale_out_long", "sla_quick"])
        yield env
    finally:
        stack.stop()
        redis.down()
        for receiver in (marquez, slack, pd):
            receiver.stop()
        for name in databases:
            drop_postgres_database(name)


def test_daily_etl_survives_a_redis_restart_mid_run(scale: Scale) -> None:
    """Redis goes down and comes back while the batches run: the workers reconnect, no task is lost, the run is
    green, and it ran through the broker on the workers."""
    stack = scale.stack
    stack.api.set_paused("daily_etl", False)
    run_id = stack.api.trigger("daily_etl", conf=CONF)
    wait_for(lambda: [t for t in stack.api.task_instances("daily_etl", run_id) if t["state"] == "running"], 240,
             "a running daily_etl task")
    scale.redis.down()
    scale.redis.up()
    run = stack.api.wait_for_run("daily_etl", run_id, timeout=420)
    tis = stack.api.task_instances("daily_etl", run_id)
    assert run["state"] == "success", [(t["task_id"], t["map_index"], t["state"]) for t in tis]
    states = {(t["task_id"], t["map_index"]): t["state"] for t in tis}
    assert states.pop(("etl.retry_failed", -1)) == "skipped"  # no ticker failed
    assert set(states.values()) == {"success"}
    assert sum(scale.ran_on(w, run_id) for w in WORKERS) >= len(states)  # every task ran on a Celery worker
    assert scale.query(f"{PG} dbname={scale.metadata_db}",
                       "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", "daily_etl", run_id) == [
        ("success",)]


def test_the_master_run_uses_both_workers_and_one_trading_database(scale: Scale) -> None:
    """The master DAG is green with its tasks spread over both workers (trading only on ``b``), the scheduler
    restarted in the middle; every ticker's rows are in the one PostgreSQL trading database, no worker has a
    database file of its own."""
    stack = scale.stack
    stack.api.set_paused("portfolio_master", False)
    run_id = stack.api.trigger("portfolio_master", conf=CONF)
    wait_for(lambda: [t for t in stack.api.task_instances("portfolio_master", run_id) if t["state"] == "success"],
             240, "a finished master task")
    stack.restart_component("scheduler")
    run = stack.api.wait_for_run("portfolio_master", run_id, timeout=420)
    tis = stack.api.task_instances("portfolio_master", run_id)
    assert run["state"] == "success", [(t["task_id"], t["map_index"], t["state"]) for t in tis]
    assert scale.ran_on("a", run_id) and scale.ran_on("b", run_id)
    trading = [t for t in tis if t["task_id"].startswith("trading.") and t["state"] == "success"
               and t["queue"] == "trading"]
    assert trading, "the trade tasks go to the trading queue"
    rows = dict(scale.query(scale.domain_dsn, "SELECT ticker, count(*) FROM ohlcv GROUP BY ticker"))
    assert set(rows) == {"AAPL", "MSFT"} and min(rows.values()) > 200, rows
    forecasts = {t for (t,) in scale.query(scale.domain_dsn, "SELECT DISTINCT ticker FROM forecasts")}
    assert forecasts == {"AAPL", "MSFT"}
    assert not [p for home in scale.homes.values() for p in (home / "data").glob("*.db")]


def test_error_thresholds_count_failures_across_workers(scale: Scale) -> None:
    """Two failures on worker ``a`` and one on ``b`` reach ``dag_failures`` (threshold 3) in the shared state:
    it fires once, and one incident is in the shared outbox."""
    run_id, run = scale.finish_run("scale_out_failures")
    assert run["state"] == "failed"
    assert scale.ran_on("a", run_id) == 2 and scale.ran_on("b", run_id) == 1
    alerts = wait_for(lambda: scale.events(event="alert", rule="dag_failures", key="scale_out_failures"), 120,
                      "the dag_failures alert")
    assert [a["status"] for a in alerts] == ["firing"], alerts
    incidents = scale.query(scale.state_dsn, "SELECT count(*) FROM incidents WHERE kind = 'error_threshold' "
                            "AND dedup_key = %s", alerts[0]["dedup_key"])
    assert incidents == [(1,)]


def test_a_deadline_miss_is_delivered_once_and_shown(scale: Scale) -> None:
    """One SLA miss, two outbox workers on two hosts sharing the PostgreSQL outbox: one Slack message and one
    PagerDuty trigger (then one of each for the recovery), and the miss in the SLA view of the api-server."""
    import time

    import requests

    run_id, run = scale.finish_run("sla_quick", {"sleep": 4})
    assert run["state"] == "success"
    key = dedup("sla_quick", run_id)

    def delivered() -> tuple[list[str], list[str]]:
        """The incident kinds on Slack and the event actions on PagerDuty, for this run's miss."""
        slack = [((m.get("metadata") or {}).get("event_payload") or {}) for m in scale.slack.messages()]
        return (sorted(p.get("kind", "") for p in slack if p.get("dedup_key") == key),
                sorted(e["event_action"] for e in scale.pd.events() if e["dedup_key"] == key))

    # the run finished late: the miss, then its recovery, on both channels
    wait_for(lambda: all(len(sent) == 2 for sent in delivered()), 120, "the miss and its recovery delivered")
    time.sleep(5)  # wait-budget: 5 (a second delivery, if any, would come within the retry delays)
    assert delivered() == (["sla_miss", "sla_recovered"], ["resolve", "trigger"])
    view = requests.get(f"{scale.stack.layout.api_url}/pmx-sla/api/misses", params={"dag_id": "sla_quick"},
                        headers={"Authorization": f"Bearer {scale.stack.api.token()}"}, timeout=30)
    assert view.status_code == 200 and run_id in {m["run_id"] for m in view.json()["misses"]}


def _completed(marquez: MarquezStandIn, run_id: str) -> list[dict[str, Any]]:
    """COMPLETE events of the tasks of Airflow run ``run_id`` the endpoint accepted."""
    return [e for e in marquez.events() if e["eventType"] == "COMPLETE"
            and (e["run"]["facets"].get("airflow") or {}).get("dagRun", {}).get("run_id") == run_id]


def test_lineage_reaches_the_marquez_endpoint_and_losing_it_fails_no_task(scale: Scale) -> None:
    """The master run's events go over the shipped HTTP transport (timeout, retries) to the endpoint; the endpoint
    goes down mid-run: the run stays green and every lost event is counted (component=lineage, reason=transport);
    once it is back, the next run's events arrive again."""
    from tests.unit.lineage._spec import event_errors

    stack, marquez = scale.stack, scale.marquez
    stack.api.set_paused("portfolio_master", False)
    run_id = stack.api.trigger("portfolio_master", conf=CONF)

    wait_for(lambda: _completed(marquez, run_id), 240, "a COMPLETE event of a master task at the endpoint")
    marquez.stop()
    run = stack.api.wait_for_run("portfolio_master", run_id, timeout=420)
    tis = stack.api.task_instances("portfolio_master", run_id)
    assert run["state"] == "success", [(t["task_id"], t["map_index"], t["state"]) for t in tis]
    assert all(t["try_number"] <= 1 for t in tis), "no task was retried because of lineage"

    assert [f"{e['job']['name']}: {err}" for e in marquez.events() for err in event_errors(e)] == []
    lost = [e for e in scale.events(event="observability_failure", component_failed="lineage")
            if e.get("dag_id") == "portfolio_master" and e.get("run_id") == run_id]
    assert lost and {e["reason"] for e in lost} == {"transport"}, lost[:3]

    marquez.resume()
    smoke_id, smoke = scale.finish_run("stack_smoke", timeout=240)
    assert smoke["state"] == "success"
    wait_for(lambda: _completed(marquez, smoke_id), 60, "stack_smoke's events after the endpoint came back")


def test_a_worker_killed_mid_task_is_detected_and_its_task_retried_on_the_other(scale: Scale) -> None:
    """``kill -9`` of the worker running a task: the scheduler finds the task's heartbeat gone, the retry runs on
    the other worker, the run is green, and the lost try is reported once."""
    stack = scale.stack
    stack.api.set_paused("scale_out_long", False)
    run_id = stack.api.trigger("scale_out_long", conf={"seconds": 45})
    victim = wait_for(lambda: next((w for w in WORKERS if scale.ran_on(w, run_id)), None), 120,
                      "the worker that took the task")
    wait_for(lambda: [t for t in stack.api.task_instances("scale_out_long", run_id) if t["state"] == "running"],
             60, "the task running")
    stack.stop_component(f"celery-worker@{victim}", signal.SIGKILL)
    try:
        run = stack.api.wait_for_run("scale_out_long", run_id, timeout=300)
    finally:
        stack.start_component(f"celery-worker@{victim}")
    (ti,) = stack.api.task_instances("scale_out_long", run_id)
    assert run["state"] == "success" and ti["try_number"] == 2, ti
    (survivor,) = [w for w in WORKERS if w != victim]
    assert scale.ran_on(survivor, run_id) == 1
    retries = scale.events(event="task_up_for_retry", run_id=run_id)
    assert len(retries) == 1, retries
