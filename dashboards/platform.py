"""Airflow platform: scheduler, dag-processor, executor, pools, triggerer, and the metric pipeline itself."""

from __future__ import annotations

from dashboards.panels import DashboardBuilder, Query, thresholds

RATE = "$__rate_interval"


def _p95(metric: str, by: str = "") -> str:
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile(0.95, sum by ({group}) (rate({metric}_bucket[{RATE}])))"


def build() -> object:
    """The *Airflow platform* dashboard."""
    board = DashboardBuilder(
        "pmx-airflow-platform",
        "Airflow platform",
        "Scheduler, dag-processor, executor, pools and triggerer health (Airflow 3.3 StatsD).",
        ["airflow", "platform"],
    )
    board.row("Scheduler")
    board.timeseries(
        "Heartbeats",
        [
            Query("airflow:scheduler_heartbeat:rate2m", "scheduler"),
            Query("airflow:dag_processor_heartbeat:rate2m", "dag-processor"),
            Query("airflow:triggerer_heartbeat:rate2m", "triggerer"),
        ],
        unit="ops",
        description="Heartbeats per second; a line at zero is a dead component.",
    )
    board.timeseries(
        "Scheduler loop, p95",
        [
            Query(_p95("airflow_scheduler_loop_duration_seconds"), "scheduler loop"),
            Query(_p95("airflow_scheduler_critical_section_duration_seconds"), "critical section"),
        ],
        unit="s",
    )
    board.timeseries(
        "Task instances the scheduler sees",
        [
            Query("sum(airflow_scheduler_tasks_executable)", "executable"),
            Query("sum(airflow_scheduler_tasks_starving)", "starving"),
            Query("sum(airflow_scheduler_dagruns_running)", "DAG runs running"),
        ],
    )
    board.timeseries(
        "Executor heartbeat, p95",
        [
            Query(_p95("airflow_scheduler_executor_heartbeat_duration_seconds", "executor"), "{{executor}}"),
        ],
        unit="s",
    )

    board.row("DAG processor")
    board.stat(
        "Import errors",
        Query("max(airflow_dag_processing_import_errors)", instant=True),
        steps=thresholds((None, "green"), (1, "red")),
        width=6,
    )
    board.stat("DAGs in the DAG bag", Query("max(airflow_dagbag_size)", instant=True), width=6)
    board.stat(
        "Total parse time",
        Query("max(airflow_dag_processing_total_parse_time_seconds)", instant=True),
        unit="s",
        width=6,
    )
    board.stat(
        "Files queued for parsing",
        Query("max(airflow_dag_processing_file_path_queue_size)", instant=True),
        width=6,
    )
    board.timeseries(
        "Parse time per file, p95",
        [
            Query(_p95("airflow_dag_processing_last_duration_seconds", "file_name"), "{{file_name}}"),
        ],
        unit="s",
    )
    board.bars(
        "Seconds since each file was parsed",
        Query(
            "max by (file_name) (airflow_dag_processing_last_run_seconds_ago)", "{{file_name}}", instant=True
        ),
        unit="s",
        steps=thresholds((None, "green"), (300, "orange"), (900, "red")),
    )

    board.row("Executor and pools")
    board.timeseries(
        "Executor slots",
        [
            Query(
                "sum by (executor_class_name) (airflow_executor_running_tasks)",
                "running {{executor_class_name}}",
            ),
            Query(
                "sum by (executor_class_name) (airflow_executor_queued_tasks)",
                "queued {{executor_class_name}}",
            ),
            Query(
                "sum by (executor_class_name) (airflow_executor_open_slots)", "open {{executor_class_name}}"
            ),
        ],
    )
    board.timeseries(
        "Pool slots",
        [
            Query("sum by (pool_name) (airflow_pool_running_slots)", "running {{pool_name}}"),
            Query("sum by (pool_name) (airflow_pool_queued_slots)", "queued {{pool_name}}"),
            Query("sum by (pool_name) (airflow_pool_open_slots)", "open {{pool_name}}"),
        ],
    )
    board.timeseries(
        "Starving tasks per pool",
        [
            Query("max by (pool_name) (airflow_pool_starving_tasks)", "{{pool_name}}"),
        ],
    )
    board.bars(
        "Pool usage",
        Query("airflow:pool_slots_used:ratio", "{{pool_name}}", instant=True),
        unit="percentunit",
        steps=thresholds((None, "green"), (0.8, "orange"), (0.95, "red")),
    )

    board.row("Triggerer")
    board.timeseries(
        "Triggers running and capacity",
        [
            Query("sum by (hostname) (airflow_triggers_running)", "running {{hostname}}"),
            Query("sum by (hostname) (airflow_triggerer_capacity_left)", "capacity left {{hostname}}"),
        ],
    )
    board.timeseries(
        "Trigger outcomes",
        [
            Query(f"sum(rate(airflow_triggers_succeeded_total[{RATE}])) or on() vector(0)", "succeeded"),
            Query(f"sum(rate(airflow_triggers_failed_total[{RATE}])) or on() vector(0)", "failed"),
            Query(
                f"sum(rate(airflow_triggers_blocked_main_thread_total[{RATE}])) or on() vector(0)",
                "blocked main thread",
            ),
        ],
        unit="ops",
    )

    board.row("StatsD bridge and observability")
    board.timeseries(
        "StatsD lines and events",
        [
            Query(f"sum(rate(statsd_exporter_lines_total[{RATE}]))", "lines"),
            Query(f"sum by (type) (rate(statsd_exporter_events_total[{RATE}]))", "events {{type}}"),
            Query(f"sum(rate(statsd_exporter_events_unmapped_total[{RATE}]))", "unmapped"),
        ],
        unit="ops",
    )
    board.timeseries(
        "Lost events",
        [
            Query("statsd_bridge:lost_events:rate5m", "lost"),
            Query(
                f"sum by (reason) (rate(statsd_exporter_sample_errors_total[{RATE}]))",
                "parse error {{reason}}",
            ),
        ],
        unit="ops",
        description="Datagrams dropped unread, unparsable lines, conflicts; alert StatsdBridgeDroppingData.",
    )
    board.stat("Metric families", Query("sum(statsd_exporter_metrics_total)", instant=True), width=6)
    board.stat(
        "Bridge up",
        Query('min(up{job="statsd"})', instant=True),
        width=6,
        mapping={"0": ("down", "red"), "1": ("up", "green")},
    )
    board.timeseries(
        "Observability failures (caught)",
        [
            Query(
                f"sum by (component) (rate(pmx_observability_failures_total[{RATE}])) or on() vector(0)",
                "{{component}}",
            ),
        ],
        unit="ops",
        description="Listener, metrics, lineage or alert failures that were caught; tasks unaffected.",
    )
    board.timeseries(
        "Listener hook latency, p95",
        [
            Query(_p95("pmx_listener_hook_latency_seconds", "hook"), "{{hook}}"),
        ],
        unit="s",
    )
    return board.build()
