"""The Slack and PagerDuty providers against local stand-ins: delivered, retried or dead-lettered."""

from __future__ import annotations

import json

import pytest

from alerts.alerting_config import AlertingConfig
from alerts.channels import Outcome, build_channels, classify_status
from alerts.incident import Incident
from tests.unit.alerts.conftest import StandIns

KEY = "sla_miss|pmx-sla/d/s/r1|slack|notify"


def incident(severity: str = "critical", kind: str = "sla_miss") -> Incident:
    return Incident(
        kind=kind,
        dedup_key="pmx-sla/d/s/r1",
        severity=severity,
        summary="SLA s missed: d run r1 late",
        dag_id="d",
        run_id="r1",
        details={"sla": "s", "deadline": "2026-03-02T10:05:00.000000Z"},
        links={"run": "http://ui/dags/d/runs/r1", "runbook": "http://ui/pmx-sla/runbook#s"},
    )


def send(
    config: AlertingConfig, channel: str, action: str = "notify", inc: Incident | None = None
) -> Outcome:
    return build_channels(config)[channel].send(inc or incident(), action, KEY)


def test_slack_api_posts_the_message_with_severity_links_and_dedup_key(
    receivers: StandIns, quick_config: AlertingConfig
) -> None:
    assert send(quick_config, "slack") == Outcome("delivered", "", 200)
    (msg,) = receivers.slack.messages()
    assert msg["via"] == "api" and msg["channel"] == "C0PMXALERTS"
    assert msg["text"].startswith(":rotating_light: [CRITICAL] SLA s missed")
    blocks = json.dumps(msg["blocks"])
    assert "<http://ui/dags/d/runs/r1|DAG run>" in blocks and "pmx-sla/d/s/r1" in blocks
    assert msg["metadata"]["event_payload"]["delivery_key"] == KEY


def test_pagerduty_trigger_then_resolve_over_tls(receivers: StandIns, quick_config: AlertingConfig) -> None:
    assert send(quick_config, "pagerduty", "trigger").result == "delivered"
    assert send(quick_config, "pagerduty", "resolve", incident(kind="sla_recovered")).result == "delivered"
    trigger, resolve = receivers.pd.events()
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"] == "pmx-sla/d/s/r1"
    assert (
        trigger["payload"]["severity"] == "critical" and trigger["payload"]["source"] == "portfolio-maximizer"
    )
    assert {link["text"] for link in trigger["links"]} == {"DAG run", "Runbook"}
    assert receivers.pd.alerts == {"pmx-sla/d/s/r1": "resolved"}


def test_slack_webhook_mode(receivers: StandIns, quick_config: AlertingConfig) -> None:
    assert send(quick_config, "slack_webhook").result == "delivered"
    assert [m["via"] for m in receivers.slack.messages()] == ["webhook"]


@pytest.mark.parametrize(
    ("channel", "status", "result"),
    [
        ("slack", 500, "retry"),
        ("slack", 503, "retry"),
        ("slack", 429, "retry"),
        ("slack", 404, "dead_letter"),
        ("pagerduty", 500, "retry"),
        ("pagerduty", 502, "retry"),
        ("pagerduty", 403, "dead_letter"),
        ("slack_webhook", 500, "retry"),
        ("slack_webhook", 410, "dead_letter"),
    ],
    ids=lambda v: str(v),
)
def test_http_failures_are_classified(
    receivers: StandIns, quick_config: AlertingConfig, channel: str, status: int, result: str
) -> None:
    target = receivers.pd if channel == "pagerduty" else receivers.slack
    target.fail(status)
    outcome = send(quick_config, channel, "trigger" if channel == "pagerduty" else "notify")
    assert (outcome.result, outcome.status) == (result, status)
    assert not receivers.slack.messages() and not receivers.pd.events()


def test_a_bad_pagerduty_routing_key_is_dead_lettered_with_the_reason(
    receivers: StandIns, quick_config: AlertingConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PAGERDUTY_EVENTS",
        json.dumps(
            {
                "conn_type": "pagerduty_events",
                "password": "WRONGKEY-secret-value",
                "extra": {"base_url": receivers.pd.url, "ca_bundle": str(receivers.ca)},
            }
        ),
    )
    outcome = send(quick_config, "pagerduty", "trigger")
    assert outcome.result == "dead_letter" and outcome.status == 400 and "routing_key" in outcome.reason
    assert "WRONGKEY-secret-value" not in outcome.reason


@pytest.mark.parametrize(
    ("token", "channel_name", "reason"),
    [
        ("xoxb-wrong-token-123456", "#pmx-alerts", "slack error invalid_auth"),
        (None, "#no-such-channel", "slack error channel_not_found"),
    ],
    ids=["bad-token", "unknown-channel"],
)
def test_slack_errors_that_cannot_succeed_are_dead_lettered(
    receivers: StandIns,
    quick_config: AlertingConfig,
    monkeypatch: pytest.MonkeyPatch,
    token: str | None,
    channel_name: str,
    reason: str,
) -> None:
    if token:
        monkeypatch.setenv(
            "AIRFLOW_CONN_SLACK_ALERTS",
            json.dumps(
                {"conn_type": "slack", "password": token, "extra": {"base_url": receivers.slack.api_url}}
            ),
        )
    channels = dict(quick_config.channels)
    channels["slack"] = channels["slack"].model_copy(update={"channel": channel_name})
    outcome = send(quick_config.model_copy(update={"channels": channels}), "slack")
    assert (outcome.result, outcome.reason) == ("dead_letter", reason)


@pytest.mark.parametrize("policy", ["not_configured", "dead_letter"])
def test_a_missing_connection_is_not_configured_unless_the_policy_says_dead_letter(
    receivers: StandIns, quick_config: AlertingConfig, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_PAGERDUTY_EVENTS")
    config = quick_config.model_copy(
        update={"dead_letter": quick_config.dead_letter.model_copy(update={"missing_connection": policy})})
    outcome = send(config, "pagerduty", "trigger")
    assert outcome == Outcome(policy, "not configured: connection 'pagerduty_events' is not defined")


def test_the_shipped_default_treats_a_missing_connection_as_not_configured(quick_config: AlertingConfig) -> None:
    assert quick_config.dead_letter.missing_connection == "not_configured"


def test_a_plain_http_pagerduty_url_is_a_configuration_error(
    receivers: StandIns, quick_config: AlertingConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PAGERDUTY_EVENTS",
        json.dumps(
            {
                "conn_type": "pagerduty_events",
                "password": receivers.pd.routing_key,
                "extra": {"base_url": receivers.pd.url.replace("https", "http")},
            }
        ),
    )
    outcome = send(quick_config, "pagerduty", "trigger")
    assert outcome.result == "dead_letter" and "https" in outcome.reason


@pytest.mark.parametrize("channel", ["slack", "pagerduty"])
def test_a_hanging_endpoint_is_retried_and_left_in_doubt(
    receivers: StandIns, quick_config: AlertingConfig, channel: str
) -> None:
    (receivers.pd if channel == "pagerduty" else receivers.slack).hang(3)
    outcome = send(quick_config, channel, "trigger" if channel == "pagerduty" else "notify")
    assert outcome.result == "retry" and outcome.maybe_sent is True


def test_slack_reconciliation_finds_a_message_that_did_arrive(
    receivers: StandIns, quick_config: AlertingConfig
) -> None:
    slack = build_channels(quick_config)["slack"]
    assert slack.reconcile(incident(), "notify", KEY, since=0) is False
    assert slack.send(incident(), "notify", KEY).result == "delivered"
    assert slack.reconcile(incident(), "notify", KEY, since=0) is True
    assert slack.reconcile(incident(), "notify", "another|key", since=0) is False
    receivers.slack.hang(3)
    assert slack.reconcile(incident(), "notify", KEY, since=0) is None  # cannot tell: do not resend yet


def test_status_classification_follows_the_dead_letter_policy(quick_config: AlertingConfig) -> None:
    assert [classify_status(s, "x", quick_config).result for s in (202, 400, 408, 422, 429, 500)] == [
        "delivered",
        "dead_letter",
        "retry",
        "dead_letter",
        "retry",
        "retry",
    ]


def test_email_through_the_smtp_provider(
    receivers: StandIns, quick_config: AlertingConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import warnings

    with warnings.catch_warnings():  # stdlib SMTP sink of Python 3.11 (removed in 3.12)
        warnings.simplefilter("ignore", DeprecationWarning)
        import asyncore
        import smtpd

    got: list[tuple[str, list[str], bytes]] = []

    class Sink(smtpd.SMTPServer):
        def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):  # type: ignore[no-untyped-def]
            got.append((mailfrom, rcpttos, data))

    server = Sink(("127.0.0.1", 0), None)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.1, "count": 100}, daemon=True)
    thread.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "pmx@example.com"},
            }
        ),
    )
    channels = dict(quick_config.channels)
    channels["email"] = channels["email"].model_copy(update={"enabled": True})
    try:
        outcome = send(quick_config.model_copy(update={"channels": channels}), "email")
    finally:
        server.close()
    assert outcome.result == "delivered"
    ((sender, recipients, data),) = got
    assert sender == "pmx@example.com" and recipients == ["oncall@example.com"]
    import email

    message = email.message_from_bytes(data)
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True)
    assert message["Subject"] == "[CRITICAL] SLA s missed: d run r1 late"
    assert b"pmx-sla/d/s/r1" in html and b'href="http://ui/dags/d/runs/r1"' in html


def test_a_follow_up_goes_into_the_thread_of_the_first_message_of_its_dedup_key(
    receivers: StandIns, quick_config: AlertingConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    slack = build_channels(quick_config)["slack"]
    warning = Incident(kind="sla_warning", dedup_key="pmx-sla/d/s/r1", severity="warning", summary="s at risk",
                       dag_id="d", run_id="r1", details={"sla": "s", "deadline": "2026-03-02T10:05:00.000000Z",
                                                         "projected_finish": "2026-03-02T10:06:00.000000Z"})
    recovered = Incident(kind="sla_recovered", dedup_key="pmx-sla/d/s/r1", severity="critical", summary="ok",
                         dag_id="d", run_id="r1", details={"sla": "s", "late_seconds": 5.0, "late_text": "5s"})
    other = Incident(kind="sla_miss", dedup_key="pmx-sla/d/s/r2", severity="critical", summary="r2 late",
                     dag_id="d", run_id="r2", details={"sla": "s", "deadline": None})
    warned = Incident(kind="sla_miss", dedup_key="pmx-sla/d/s/r1", severity="critical", summary="SLA s missed",
                      dag_id="d", run_id="r1", details={"sla": "s", "deadline": "2026-03-02T10:05:00.000000Z",
                                                        "warned_at": "2026-03-02T10:04:40.000000Z"})
    for inc in (warning, warned, recovered, other):
        assert slack.send(inc, "notify", f"{inc.kind}|{inc.dedup_key}").result == "delivered"
    first, miss, resolution, unrelated = receivers.slack.messages()
    assert first["thread_ts"] is None
    assert (miss["thread_ts"], miss["reply_broadcast"]) == (first["ts"], True)  # in the thread and the channel
    assert (resolution["thread_ts"], resolution["reply_broadcast"]) == (first["ts"], True)
    assert unrelated["thread_ts"] is None  # a miss without a warning opens its own thread (and looks nothing up)
    assert slack.reconcile(recovered, "notify", "sla_recovered|pmx-sla/d/s/r1", since=0) is True

    def broken(*_: object, **__: object) -> object:
        raise RuntimeError("history unavailable")

    monkeypatch.setattr(type(slack), "_history", broken)
    assert slack.send(recovered, "notify", "again").result == "delivered"  # the lookup never costs the delivery
    assert receivers.slack.messages()[-1]["thread_ts"] is None


def test_a_rate_limited_slack_is_asked_once_for_the_thread_and_once_for_the_post(
    receivers: StandIns, quick_config: AlertingConfig
) -> None:
    slack = build_channels(quick_config)["slack"]
    recovered = Incident(kind="sla_recovered", dedup_key="pmx-sla/d/s/r1", severity="critical", summary="ok",
                         dag_id="d", run_id="r1", details={"sla": "s", "late_seconds": 5.0, "late_text": "5s"})
    receivers.slack.fail(429)
    outcome = slack.send(recovered, "notify", "k")
    assert (outcome.result, outcome.status) == ("retry", 429)
    # the thread lookup gave up at the first 429 (no retry sleeping inside the attempt), then the post was tried
    paths = [a["path"].rsplit("/", 1)[-1].split("?")[0] for a in receivers.slack.attempts]
    assert paths == ["conversations.list", "chat.postMessage"]  # "#pmx-alerts": its id first
