"""Synthetic StatsD traffic shaped like Airflow 3.3 (InfluxDB tags, plus the legacy dotted duplicates) and
the project's ``pmx.*`` metrics: every metric the dashboards and Prometheus rules use (tests, benchmarks).

SLA misses carry the SLAs of ``config/slas.yml`` (the router only counts configured SLAs), and every SLA's DAG
finishes runs, so the generated SLO rules (joined on the configured ``dag_id``/``sla``) see real names: every
other SLA misses, the rest are on time (an SLI of 0).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

DAGS = {"etl_daily": ["extract", "validate", "load"], "trader": ["signals", "execute"], "maint": ["vacuum"]}
TICKERS = ("AAPL", "MSFT", "SPY")
SLA_FILE = Path(__file__).resolve().parents[2] / "config" / "slas.yml"


def configured_slas(path: Path = SLA_FILE) -> tuple[tuple[str, str, str], ...]:
    """``(dag_id, sla, severity)`` of every SLA in ``path``, in file order."""
    slas = yaml.safe_load(path.read_text(encoding="utf-8"))["slas"]
    return tuple((body["dag_id"], name, body["severity"]) for name, body in slas.items())


SLAS = configured_slas()
MISSING = SLAS[::2]  # these SLAs miss every loop; the others never do


def airflow_lines(rng: random.Random) -> list[str]:
    """One scheduler/dag-processor/triggerer loop worth of Airflow metrics, with failures and retries."""
    lines = [
        "airflow.scheduler_heartbeat:1|c",
        "airflow.dag_processor_heartbeat:1|c",
        "airflow.triggerer_heartbeat,team_name=core:1|c",
        "airflow.job_start:1|c",
        f"airflow.scheduler.scheduler_loop_duration:{rng.uniform(5, 80):.3f}|ms",
        f"airflow.scheduler.critical_section_duration:{rng.uniform(1, 20):.3f}|ms",
        f"airflow.scheduler.executor_heartbeat_duration,executor=LocalExecutor:{rng.uniform(1, 9):.3f}|ms",
        f"airflow.scheduler.tasks.executable:{rng.randint(0, 4)}|g",
        f"airflow.scheduler.tasks.starving:{rng.randint(0, 2)}|g",
        "airflow.scheduler.dagruns.running:2|g",
        "airflow.dag_processing.import_errors:0|g",
        f"airflow.dagbag_size:{len(DAGS)}|g",
        f"airflow.dag_processing.total_parse_time:{rng.uniform(0.2, 2):.3f}|g",
        "airflow.dag_processing.file_path_queue_size:0|g",
    ]
    for dag in DAGS:
        lines += [
            f"airflow.dag_processing.last_duration,bundle_name=dags-folder,file_name={dag}:"
            f"{rng.uniform(50, 900):.3f}|ms",
            f"airflow.dag_processing.last_duration.dags-folder.{dag}:{rng.uniform(50, 900):.3f}|ms",
            f"airflow.dag_processing.last_run.seconds_ago,file_path=dags/{dag}.py,bundle_name=dags-folder,"
            f"file_name={dag}:{rng.uniform(1, 30):.1f}|g",
        ]
    for gauge, value in (("open_slots", 3), ("queued_tasks", rng.randint(0, 3)), ("running_tasks", 1)):
        status = gauge.split("_")[0]
        lines += [
            f"airflow.executor.{gauge},status={status},executor_class_name=LocalExecutor:{value}|g",
            f"airflow.executor.{gauge}.LocalExecutor:{value}|g",
        ]
    for pool in ("default_pool", "trading"):
        for gauge in (
            "open_slots",
            "queued_slots",
            "running_slots",
            "deferred_slots",
            "scheduled_slots",
            "starving_tasks",
        ):
            value = rng.randint(0, 8)
            lines += [
                f"airflow.pool.{gauge},pool_name={pool}:{value}|g",
                f"airflow.pool.{gauge}.{pool}:{value}|g",
            ]
    lines += [
        "airflow.triggers.running,hostname=vm:2|g",
        "airflow.triggerer.capacity_left,hostname=vm:998|g",
        "airflow.triggers.succeeded,team_name=core:1|c",
        "airflow.triggers.failed:1|c",
        "airflow.triggers.blocked_main_thread:1|c",
    ]
    lines += _dag_runs(rng)
    lines += _sla_dag_runs(rng)
    return lines


def _sla_dag_runs(rng: random.Random) -> list[str]:
    """One finished scheduled run of each SLA's DAG (the SLO denominator), tagged and legacy."""
    lines = []
    for dag in sorted({dag for dag, _, _ in SLAS} - set(DAGS)):
        ms = rng.uniform(10_000, 400_000)
        lines += [
            f"airflow.dagrun.duration.success,dag_id={dag},run_type=scheduled:{ms:.3f}|ms",
            f"airflow.dagrun.duration.success.{dag}:{ms:.3f}|ms",
        ]
    return lines


def _dag_runs(rng: random.Random) -> list[str]:
    lines = []
    for dag, tasks in DAGS.items():
        state = "failed" if dag == "maint" and rng.random() < 0.5 else "success"
        duration = rng.uniform(10_000, 400_000)
        lines += [
            f"airflow.dagrun.duration.{state},dag_id={dag},run_type=scheduled:{duration:.3f}|ms",
            f"airflow.dagrun.duration.{state}.{dag}:{duration:.3f}|ms",
            f"airflow.dagrun.schedule_delay,dag_id={dag},run_type=scheduled:{rng.uniform(1e2, 9e4):.3f}|ms",
            f"airflow.dagrun.dependency-check,dag_id={dag},run_type=scheduled:{rng.uniform(1, 30):.3f}|ms",
            f"airflow.deadline_alerts.deadline_created,dag_id={dag}:1|c",
            f"airflow.deadline_alerts.deadline_not_missed,dag_id={dag},dagrun_id=r{rng.randint(1, 99)}:1|c",
        ]
        if dag == "trader":
            lines.append(
                f"airflow.deadline_alerts.deadline_missed,dag_id={dag},dagrun_id=r{rng.randint(1, 9)}:1|c"
            )
        for task in tasks:
            task_state = (
                rng.choice(["success", "success", "failed", "up_for_retry"]) if dag == "maint" else "success"
            )
            ms = rng.uniform(100, 60_000)
            lines += [
                f"airflow.ti.start,dag_id={dag},task_id={task}:1|c",
                f"airflow.ti.start.{dag}.{task}:1|c",
                f"airflow.ti.finish,dag_id={dag},task_id={task},state={task_state}:1|c",
                f"airflow.ti.finish.{dag}.{task}.{task_state}:1|c",
                f"airflow.task.duration,dag_id={dag},task_id={task}:{ms:.3f}|ms",
                f"airflow.dag.{dag}.{task}.duration:{ms:.3f}|ms",
                f"airflow.ti.running,queue=default,dag_id={dag},task_id={task}:{rng.randint(0, 1)}|g",
                f"airflow.ti.queued,queue=default,dag_id={dag},task_id={task}:{rng.randint(0, 1)}|g",
                f"airflow.ti.running.default.{dag}.{task}:1|g",
            ]
    return lines


def pmx_lines(rng: random.Random, now: float | None = None) -> list[str]:
    """Every ``pmx.*`` metric of docs/metrics.md, with plausible values."""
    now = time.time() if now is None else now
    lines = []
    for dag, tasks in DAGS.items():
        for task in tasks:
            tags = f"dag_id={dag},task_id={task}"
            lines += [
                f"pmx.task.event,{tags},state=success:1|c",
                f"pmx.task.duration,{tags},state=success:{rng.uniform(100, 60_000):.3f}|ms",
                f"pmx.task.cpu_time,{tags}:{rng.uniform(10, 9_000):.3f}|ms",
                f"pmx.task.peak_rss,{tags}:{rng.randint(50, 900) * 1_048_576}|g",
            ]
        lines += [
            f"pmx.dagrun.event,dag_id={dag},state=success:1|c",
            f"pmx.dagrun.duration,dag_id={dag},state=success:{rng.uniform(1e4, 4e5):.3f}|ms",
            f"pmx.error_monitor.alert,rule=failure_burst,dag_id={dag}:1|c",
        ]
    lines += [
        "pmx.dag_processing.import_error:1|c",
        "pmx.listener.events_written,stream=tasks:5|c",
        f"pmx.listener.hook_latency,hook=on_task_instance_success:{rng.uniform(0.1, 9):.3f}|ms",
        "pmx.observability.failure,component=lineage,reason=transport:1|c",
    ]
    for dag, sla, severity in MISSING:
        lines += [
            f"pmx.sla.miss,dag_id={dag},sla={sla},severity={severity}:1|c",
            f"pmx.sla.resolved,dag_id={dag},sla={sla}:1|c",
            f"pmx.sla.lateness,dag_id={dag},sla={sla}:{rng.uniform(1, 900):.1f}|g",
        ]
    for channel, result in (
        ("slack", "delivered"),
        ("pagerduty", "delivered"),
        ("slack", "retry"),
        ("email", "dead_letter"),
    ):
        lines.append(f"pmx.alerts.delivery,channel={channel},result={result}:1|c")
        lines.append(f"pmx.alerts.delivery_latency,channel={channel}:{rng.uniform(50, 5_000):.3f}|ms")
    lines += [
        "pmx.alerts.worker_heartbeat:1|c",
        f"pmx.alerts.outbox_depth:{rng.randint(0, 3)}|g",
        f"pmx.alerts.outbox_oldest_age:{rng.uniform(0, 60):.1f}|g",
    ]
    for ticker in TICKERS:
        lines += [
            f"pmx.etl.rows_ingested,ticker={ticker}:{rng.randint(1, 390)}|c",
            f"pmx.etl.quality_failure,ticker={ticker},rule=no_gaps:1|c",
            f"pmx.forecast.error,ticker={ticker},model=sarimax:{rng.uniform(0.01, 0.2):.4f}|g",
            f"pmx.forecast.error,ticker={ticker},model=garch:{rng.uniform(0.01, 0.2):.4f}|g",
            f"pmx.trading.trades,ticker={ticker},side={rng.choice(['buy', 'sell'])}:1|c",
        ]
    lines += [
        f"pmx.etl.last_success:{now - 3_600:.0f}|g",
        "pmx.etl.source_failover,from_source=yfinance,to_source=cache:1|c",
        "pmx.forecast.count,model=sarimax:3|c",
        f"pmx.trading.equity:{rng.uniform(95_000, 105_000):.2f}|g",
        f"pmx.trading.cash:{rng.uniform(20_000, 50_000):.2f}|g",
        f"pmx.trading.pnl:{rng.uniform(-900, 900):.2f}|g",
        f"pmx.trading.win_rate:{rng.uniform(0.4, 0.6):.3f}|g",
        f"pmx.trading.last_cycle:{now:.0f}|g",
        f"pmx.quant.health:{rng.randint(0, 2)}|g",
    ]
    return lines


def packets(seed: int = 0, lines_per_packet: int = 1) -> Iterator[bytes]:
    """Endless datagrams of realistic traffic (Airflow and project metrics), ``lines_per_packet`` each."""
    rng = random.Random(seed)
    while True:
        lines = airflow_lines(rng) + pmx_lines(rng)
        for start in range(0, len(lines), lines_per_packet):
            yield "\n".join(lines[start : start + lines_per_packet]).encode()
