"""Alert payloads are masked: a secret that slipped into an incident never reaches Slack, PagerDuty or email."""

from __future__ import annotations

import json

import pytest

from alerts.incident import Incident
from alerts.messages import email_message, masked, pagerduty_event, slack_message
from foundation import redaction

SECRET = "cAnArY-alerts-31415926"


@pytest.fixture
def leaky(monkeypatch: pytest.MonkeyPatch) -> Incident:
    """An incident whose summary, details and links carry a registered secret and secret-looking pairs."""
    monkeypatch.setattr(redaction, "_secrets", frozenset())
    redaction.register_secret(SECRET)
    return Incident(kind="error_threshold", dedup_key="pmx-err/d/t", severity="error",
                    summary=f"task t failed: credential used: {SECRET}", dag_id="d", run_id="r",
                    links={"run": f"https://svc:{SECRET}@ui.invalid/dags/d"},
                    details={"error": f"login refused password=hunter22 ({SECRET})", "note_token": "plain",
                             "count": 3, "deadline": "2026-03-02T10:05:00Z"})


@pytest.mark.parametrize("render", [
    lambda i: slack_message(i, "k"),
    lambda i: pagerduty_event(i, "trigger", "portfolio-maximizer"),
    lambda i: email_message(i),
], ids=["slack", "pagerduty", "email"])
def test_no_channel_payload_carries_the_secret(leaky: Incident, render: object) -> None:
    payload = json.dumps(render(leaky), default=str)  # type: ignore[operator]
    assert SECRET not in payload and "hunter22" not in payload and "plain" not in payload
    assert "credential used: ***" in payload


def test_masking_keeps_what_is_not_secret_and_leaves_the_incident_alone(leaky: Incident) -> None:
    copy = masked(leaky)
    assert copy.details == {"error": "login refused password=*** (***)", "note_token": "***", "count": 3,
                            "deadline": "2026-03-02T10:05:00Z"}
    assert copy.links == {"run": "https://svc:***@ui.invalid/dags/d"}
    assert (copy.dedup_key, copy.dag_id, copy.run_id, copy.severity) == ("pmx-err/d/t", "d", "r", "error")
    assert SECRET in leaky.summary  # the stored incident is not rewritten by rendering
