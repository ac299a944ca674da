"""The SLA-misses read model, its HTML page, the plugin wiring and the message formats."""

from __future__ import annotations

import time
from pathlib import Path

from alerts.incident import Incident
from alerts.messages import email_message, pagerduty_event, slack_message
from alerts.misses import list_misses, miss_dag_ids
from alerts.outbox import Outbox
from alerts.recovery import recovered_incident
from alerts.router import submit
from alerts.ui import external_views, fastapi_apps
from alerts.ui_page import render_page


def miss(dag_id: str, run_id: str, severity: str = "critical") -> Incident:
    return Incident(
        kind="sla_miss",
        dedup_key=f"pmx-sla/{dag_id}/s/{run_id}",
        severity=severity,
        summary=f"SLA s missed: {dag_id}",
        dag_id=dag_id,
        run_id=run_id,
        links={"run": f"http://ui/dags/{dag_id}/runs/{run_id}"},
        details={"sla": "s", "deadline": "2026-03-02T10:05:00.000000Z"},
    )


def test_misses_list_delivery_acknowledgement_and_resolution(pmx_home: Path) -> None:
    outbox = Outbox()
    submit(miss("daily_etl", "r1"))
    submit(miss("auto_trader", "r2", "warning"))
    first = outbox.find("sla_miss", "pmx-sla/daily_etl/s/r1")
    assert first is not None
    with outbox.transaction() as conn:
        conn.execute(
            "INSERT INTO deliveries (incident_id, channel, action, status, next_attempt_at, created_at,"
            " delivered_at) VALUES (?, 'slack', 'notify', 'delivered', 0, 0, ?)",
            (first["id"], time.time()),
        )
        conn.execute(
            "INSERT INTO deliveries (incident_id, channel, action, status, next_attempt_at, created_at,"
            " last_error) VALUES (?, 'pagerduty', 'trigger', 'dead_letter', 0, 0, 'HTTP 400')",
            (first["id"],),
        )
    from datetime import UTC, datetime

    end = datetime(2026, 3, 2, 10, 17, 30, tzinfo=UTC)
    recovery = recovered_incident(
        Incident.from_json(first["payload"]), end, datetime(2026, 3, 2, 10, 5, tzinfo=UTC)
    )
    assert outbox.resolve_miss(first["id"], recovery, 750.0) is not None
    assert outbox.acknowledge(first["id"], "alice") is True
    assert outbox.acknowledge(first["id"], "bob") is False

    items = {m["dag_id"]: m for m in list_misses(outbox)}
    etl = items["daily_etl"]
    assert etl["delivered_to"] == ["slack"] and etl["late_seconds"] == 750.0 and etl["still_late"] is False
    assert [d["last_error"] for d in etl["deliveries"]] == [None, "HTTP 400"]
    assert etl["acknowledged_by"] == "alice" and etl["resolved_at"]
    trader = items["auto_trader"]
    assert trader["still_late"] is True and trader["late_seconds"] > 0 and trader["delivered_to"] == []
    assert [m["dag_id"] for m in list_misses(outbox, dag_id="auto_trader")] == ["auto_trader"]
    assert list_misses(outbox, since=time.time() + 60) == []
    assert miss_dag_ids(outbox) == ["auto_trader", "daily_etl"]


def test_the_page_escapes_and_links_each_run(pmx_home: Path) -> None:
    submit(miss("daily_etl", "<script>r1</script>"))
    page = render_page(list_misses(Outbox()), ["daily_etl"], "daily_etl", "7d")
    assert "<script>r1</script>" not in page and "&lt;script&gt;r1&lt;/script&gt;" in page
    assert 'target="_top"' in page and "Acknowledge" in page and "still late" in page


def test_the_plugin_mounts_the_view_and_lists_it_under_browse() -> None:
    from addon.plugin import PortfolioObservabilityPlugin

    assert PortfolioObservabilityPlugin.fastapi_apps == fastapi_apps
    assert fastapi_apps[0]["url_prefix"] == "/pmx-sla"
    assert external_views == [
        {
            "name": "SLA Misses",
            "href": "/pmx-sla/ui",
            "destination": "nav",
            "category": "browse",
            "url_route": "sla-misses",
        }
    ]
    assert PortfolioObservabilityPlugin.external_views == external_views


def test_every_route_depends_on_airflow_dag_read_access() -> None:
    from alerts.ui import create_app
    from alerts.ui_access import require_dag_read

    app = create_app()
    assert [d.dependency for d in app.router.dependencies] == [require_dag_read]
    assert {r.path for r in app.routes} >= {
        "/api/misses",
        "/api/misses/{incident_id}/acknowledge",
        "/ui",
        "/runbook",
        "/runbook/alerts",
    }


def test_messages_carry_severity_links_and_dedup_key() -> None:
    inc = miss("daily_etl", "r1")
    slack = slack_message(inc, "k")
    assert slack["text"] == ":rotating_light: [CRITICAL] SLA s missed: daily_etl"
    assert "<http://ui/dags/daily_etl/runs/r1|DAG run>" in str(slack["blocks"])
    assert (
        "pmx-sla/daily_etl/s/r1" in str(slack["blocks"])
        and slack["metadata"]["event_payload"]["delivery_key"] == "k"
    )
    event = pagerduty_event(inc, "trigger", "portfolio-maximizer")
    assert (event["severity"], event["dedup_key"], event["action"]) == (
        "critical",
        "pmx-sla/daily_etl/s/r1",
        "trigger",
    )
    assert event["links"] == [{"href": "http://ui/dags/daily_etl/runs/r1", "text": "DAG run"}]
    subject, body = email_message(inc)
    assert subject == "[CRITICAL] SLA s missed: daily_etl" and "pmx-sla/daily_etl/s/r1" in body
