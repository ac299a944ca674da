"""DAG and task health: runs, failures, retries, durations (p50/p95), per ``dag_id`` / ``task_id``."""

from __future__ import annotations

from dashboards.panels import DashboardBuilder, Query, thresholds

RATE = "$__rate_interval"
DAG = 'dag_id=~"$dag_id"'
TASK = 'dag_id=~"$dag_id", task_id=~"$task_id"'


def _quantile(q: float, metric: str, selector: str, by: str) -> str:
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket{{{selector}}}[{RATE}])))"


def build() -> object:
    """The *DAG and task health* dashboard."""
    board = DashboardBuilder(
        "pmx-dag-health",
        "DAG and task health",
        "DAG runs, task outcomes, retries and durations, filtered by DAG and task.",
        ["airflow", "dags"],
    )
    board.variable("dag_id", "DAG", "label_values(airflow_ti_finish_total, dag_id)")
    board.variable("task_id", "Task", 'label_values(airflow_ti_finish_total{dag_id=~"$dag_id"}, task_id)')

    board.row("DAG runs")
    board.stat(
        "Failed runs, last 24 h",
        Query(
            f'sum(increase(airflow_dagrun_duration_seconds_count{{{DAG}, state="failed"}}[24h])) '
            "or on() vector(0)",
            instant=True,
        ),
        steps=thresholds((None, "green"), (1, "red")),
    )
    board.stat(
        "Successful runs, last 24 h",
        Query(
            f'sum(increase(airflow_dagrun_duration_seconds_count{{{DAG}, state="success"}}[24h])) '
            "or on() vector(0)",
            instant=True,
        ),
    )
    board.stat(
        "Task failure ratio, 1 h",
        Query(f"max(airflow:task_failure_ratio:1h{{{DAG}}})", instant=True),
        unit="percentunit",
        steps=thresholds((None, "green"), (0.1, "orange"), (0.25, "red")),
    )
    board.stat("DAG runs running", Query("sum(airflow_scheduler_dagruns_running)", instant=True))
    board.timeseries(
        "Finished runs by state",
        [
            Query(
                f"sum by (dag_id, state) (increase(airflow_dagrun_duration_seconds_count{{{DAG}}}[{RATE}]))",
                "{{dag_id}} {{state}}",
            ),
        ],
        stacked=True,
    )
    board.timeseries(
        "DAG run duration p50 / p95",
        [
            Query(_quantile(0.5, "airflow_dagrun_duration_seconds", DAG, "dag_id"), "p50 {{dag_id}}"),
            Query(_quantile(0.95, "airflow_dagrun_duration_seconds", DAG, "dag_id"), "p95 {{dag_id}}"),
        ],
        unit="s",
    )
    board.timeseries(
        "Schedule delay, p95 over 1 h",
        [
            Query(f"airflow:dagrun_schedule_delay_seconds:p95_1h{{{DAG}}}", "{{dag_id}}"),
        ],
        unit="s",
        description="How late scheduled runs start; alert AirflowScheduleDelayHigh above 5 minutes.",
    )
    board.timeseries(
        "Failed runs in the last 15 minutes",
        [
            Query(
                f'airflow:dagrun_finished:increase15m{{{DAG}, state="failed"}} or on() vector(0)',
                "{{dag_id}}",
            ),
        ],
    )

    board.row("Tasks")
    board.timeseries(
        "Task outcomes",
        [
            Query(f"sum by (state) (increase(airflow_ti_finish_total{{{TASK}}}[{RATE}]))", "{{state}}"),
        ],
        stacked=True,
    )
    board.timeseries(
        "Retries",
        [
            Query(
                "sum by (dag_id, task_id) "
                f'(increase(airflow_ti_finish_total{{{TASK}, state="up_for_retry"}}[{RATE}])) '
                "or on() vector(0)",
                "{{dag_id}}.{{task_id}}",
            ),
        ],
    )
    board.timeseries(
        "Task duration p50",
        [
            Query(
                _quantile(0.5, "airflow_task_duration_seconds", TASK, "dag_id, task_id"),
                "{{dag_id}}.{{task_id}}",
            ),
        ],
        unit="s",
    )
    board.timeseries(
        "Task duration p95",
        [
            Query(
                _quantile(0.95, "airflow_task_duration_seconds", TASK, "dag_id, task_id"),
                "{{dag_id}}.{{task_id}}",
            ),
        ],
        unit="s",
    )
    board.table(
        "Failed task instances, last 24 h",
        Query(
            "sort_desc(sum by (dag_id, task_id) "
            f'(increase(airflow_ti_finish_total{{{TASK}, state="failed"}}[24h]))) or on() vector(0)',
            instant=True,
        ),
    )
    board.timeseries(
        "Running and queued task instances",
        [
            Query(f"sum by (dag_id) (airflow_ti_running{{{DAG}}})", "running {{dag_id}}"),
            # sampled: a green run may never be caught with a task queued
            Query(f"sum by (dag_id) (airflow_ti_queued{{{DAG}}}) or on() vector(0)", "queued {{dag_id}}"),
        ],
    )

    board.row("Task resources (listener)")
    board.timeseries(
        "CPU time per run, p95",
        [
            Query(_quantile(0.95, "pmx_task_cpu_seconds", TASK, "dag_id, task_id"), "{{dag_id}}.{{task_id}}"),
        ],
        unit="s",
    )
    board.timeseries(
        "Peak memory of the last run",
        [
            Query(f"max by (dag_id, task_id) (pmx_task_peak_rss_bytes{{{TASK}}})", "{{dag_id}}.{{task_id}}"),
        ],
        unit="bytes",
    )
    board.timeseries(
        "Task state transitions seen by the listener",
        [
            Query(f"sum by (state) (increase(pmx_task_events_total{{{TASK}}}[{RATE}]))", "{{state}}"),
        ],
        stacked=True,
    )
    board.timeseries(
        "Listener task duration p95",
        [
            Query(
                _quantile(0.95, "pmx_task_duration_seconds", TASK, "dag_id, task_id"),
                "{{dag_id}}.{{task_id}}",
            ),
        ],
        unit="s",
    )
    return board.build()
