"""SLA and alerting: misses, lateness, resolutions, Deadline Alerts, alert delivery and the outbox."""

from __future__ import annotations

from collections.abc import Sequence

from dashboards.panels import DashboardBuilder, Query, thresholds

RATE = "$__rate_interval"
SLA = 'sla=~"$sla"'


def build(sla_names: Sequence[str] = ()) -> object:
    """The *SLA and alerting* dashboard; ``sla_names`` (from ``config/slas.yml``) fixes the SLA picker's
    values, otherwise the picker lists the SLAs seen in ``pmx_sla_misses_total``."""
    board = DashboardBuilder(
        "pmx-sla-alerting",
        "SLA and alerting",
        "SLA (Deadline Alert) misses and lateness, and whether alerts reach people.",
        ["sla", "alerting"],
    )
    if sla_names:
        board.custom_variable("sla", "SLA", sorted(sla_names))
    else:
        board.variable("sla", "SLA", "label_values(pmx_sla_misses_total, sla)")

    board.row("SLAs")
    board.stat(
        "SLA misses, last 24 h",
        Query(f"sum(increase(pmx_sla_misses_total{{{SLA}}}[24h])) or on() vector(0)", instant=True),
        steps=thresholds((None, "green"), (1, "red")),
    )
    board.stat(
        "Critical SLA misses, last 24 h",
        Query(
            f'sum(increase(pmx_sla_misses_total{{{SLA}, severity="critical"}}[24h])) or on() vector(0)',
            instant=True,
        ),
        steps=thresholds((None, "green"), (1, "red")),
    )
    board.stat(
        "Deadline Alerts missed, last 24 h",
        Query("sum(increase(airflow_deadline_alerts_missed_total[24h])) or on() vector(0)", instant=True),
        steps=thresholds((None, "green"), (1, "orange")),
    )
    board.stat(
        "Firing alerts",
        Query('count(ALERTS{alertstate="firing"}) or on() vector(0)', instant=True),
        steps=thresholds((None, "green"), (1, "red")),
    )
    board.timeseries(
        "SLA misses in the last hour",
        [
            Query(f"pmx:sla_misses:increase1h{{{SLA}}}", "{{dag_id}} {{sla}} ({{severity}})"),
        ],
    )
    board.timeseries(
        "Lateness of the last miss",
        [
            Query(
                f"max by (dag_id, sla) (pmx_sla_lateness_seconds{{{SLA}}}) or on() vector(0)",
                "{{dag_id}} {{sla}}",
            ),
        ],
        unit="s",
    )
    board.timeseries(
        "Misses resolved",
        [
            Query(
                f"sum by (dag_id, sla) (increase(pmx_sla_resolved_total{{{SLA}}}[{RATE}])) or on() vector(0)",
                "{{dag_id}} {{sla}}",
            ),
        ],
    )
    board.timeseries(
        "Airflow Deadline Alerts",
        [
            Query(
                f"sum(increase(airflow_deadline_alerts_created_total[{RATE}])) or on() vector(0)", "created"
            ),
            Query(f"sum(increase(airflow_deadline_alerts_missed_total[{RATE}])) or on() vector(0)", "missed"),
            Query(
                f"sum(increase(airflow_deadline_alerts_not_missed_total[{RATE}])) or on() vector(0)", "met"
            ),
        ],
    )

    board.row("Alert delivery")
    board.timeseries(
        "Deliveries by channel and result",
        [
            Query(
                f"sum by (channel, result) (increase(pmx_alerts_deliveries_total[{RATE}])) or on() vector(0)",
                "{{channel}} {{result}}",
            ),
        ],
        stacked=True,
    )
    board.timeseries(
        "Delivery latency, p95",
        [
            Query(
                "histogram_quantile(0.95, sum by (channel, le) "
                f"(rate(pmx_alerts_delivery_latency_seconds_bucket[{RATE}]))) or on() vector(0)",
                "{{channel}}",
            ),
        ],
        unit="s",
        description="From an incident's creation to its delivery; 0 while nothing was delivered.",
    )
    board.timeseries(
        "Outbox",
        [
            Query("max(pmx_alerts_outbox_depth)", "alerts waiting"),
            Query("pmx:alerts_worker_heartbeat:rate2m * 60", "worker loops per minute"),
        ],
        width=6,
        description="Alerts waiting for delivery, and the worker's heartbeat: a line at zero is a stopped worker "
                    "(PmxAlertsWorkerDown).",
    )
    board.stat(
        "Oldest undelivered alert",
        Query("max(pmx_alerts_outbox_oldest_age_seconds)", instant=True),
        unit="s",
        steps=thresholds((None, "green"), (300, "orange"), (900, "red")),
    )
    board.table(
        "Firing and pending alerts",
        Query("sum by (alertname, severity, alertstate) (ALERTS) or on() vector(0)", instant=True),
    )
    board.timeseries(
        "Error-monitor alerts",
        [
            Query(
                f"sum by (rule) (increase(pmx_error_monitor_alerts_total[{RATE}])) or on() vector(0)",
                "{{rule}}",
            ),
        ],
    )
    return board.build()
