"""A critical failure-streak alert that paged PagerDuty is resolved there when the streak ends.

The error monitor's streak rule (shipped ``config/observability.yml``) -> the bridge -> the outbox -> the
outbox worker -> the Slack / PagerDuty stand-ins on 127.0.0.1 (real HTTP, PagerDuty over TLS).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from addon.routing import route_error_alert, to_incident
from alerts.alerting_config import AlertingConfig
from alerts.incident import Incident
from alerts.messages import headline, slack_message
from alerts.outbox import Outbox
from alerts.outbox_worker import OutboxWorker
from alerts.router import submit
from listeners.alerting import ErrorMonitorBridge
from listeners.config import load_observability
from listeners.error_monitor import ThresholdStore
from tests.unit.alerts.conftest import StandIns
from tests.unit.alerts.fake_facts import FakeFacts
from tests.unit.alerts.test_delivery import Scripted, deliverer, drain
from tests.unit.alerts.test_worker import FakeRuns
from tests.unit.alerts.worker_support import run_until


def _bridge(tmp_path: Path) -> tuple[ErrorMonitorBridge, list[dict[str, Any]]]:
    settings = load_observability(fresh=True).error_monitor  # the shipped thresholds
    written: list[dict[str, Any]] = []
    bridge = ErrorMonitorBridge(
        ThresholdStore(settings, tmp_path / "errmon.sqlite"),
        written.append,
        lambda lines: None,
        lambda *a, **k: "",
        lambda reason, exc: (_ for _ in ()).throw(exc),
        route_error_alert,  # as the composition root wires it when alerting is on
    )
    return bridge, written


def _runs(bridge: ErrorMonitorBridge, dag_id: str, states: list[str]) -> None:
    for i, state in enumerate(states):
        bridge.dag_run_outcome({"dag_id": dag_id, "run_id": f"run{i}", "state": state})


def test_the_end_of_a_streak_is_routed_with_the_firing_dedup_key(pmx_home: Path, tmp_path: Path) -> None:
    bridge, written = _bridge(tmp_path)
    threshold = bridge.store.settings.rules.consecutive_failed_runs.threshold
    _runs(bridge, "daily_etl", ["failed"] * threshold + ["success"])
    firing, resolved = (r for r in written if r["event"] == "alert")
    assert (firing["status"], resolved["status"]) == ("firing", "resolved")
    assert resolved["routed"] is True and resolved["dedup_key"] == firing["dedup_key"]
    outbox = Outbox()
    page = outbox.find("error_threshold", firing["dedup_key"])
    end = outbox.find("error_threshold_resolved", firing["dedup_key"])
    assert page is not None and end is not None
    assert end["severity"] == page["severity"] == bridge.store.settings.rules.consecutive_failed_runs.severity


def test_a_resolution_goes_where_the_firing_went(pmx_home: Path, quick_config: AlertingConfig) -> None:
    pd, slack = Scripted("pagerduty", quick_config), Scripted("slack", quick_config)
    d = deliverer(quick_config, pagerduty=pd, slack=slack, email=Scripted("email", quick_config))
    key = "pmx-errmon/consecutive_failed_runs/daily_etl/1800000000"
    submit(Incident(kind="error_threshold", dedup_key=key, severity="critical", summary="3 failed runs"))
    drain(d)
    submit(Incident(kind="error_threshold_resolved", dedup_key=key, severity="critical", summary="ok"))
    drain(d)
    assert [s[:2] for s in pd.sent] == [("error_threshold", "trigger"), ("error_threshold_resolved", "resolve")]
    assert [s[:2] for s in slack.sent] == [("error_threshold", "notify"), ("error_threshold_resolved", "notify")]
    resolution = [r for r in d.outbox.deliveries() if r["action"] == "resolve"]
    assert resolution and resolution[0]["depends_on"] is not None  # never overtakes its trigger


def test_a_resolution_without_a_stored_firing_goes_nowhere(pmx_home: Path, quick_config: AlertingConfig) -> None:
    pd = Scripted("pagerduty", quick_config)
    d = deliverer(quick_config, pagerduty=pd, slack=Scripted("slack", quick_config))
    submit(Incident(kind="error_threshold_resolved", dedup_key="pmx-errmon/x/y/1", severity="critical",
                    summary="ok"))
    drain(d)
    assert pd.sent == [] and d.outbox.deliveries() == []


def test_resolved_messages_say_resolved() -> None:
    incident = Incident(kind="error_threshold_resolved", dedup_key="k", severity="critical", summary="ok")
    assert headline(incident) == "[RESOLVED] ok"
    assert slack_message(incident, "k|slack")["text"].startswith(":white_check_mark: [RESOLVED]")


@pytest.mark.parametrize("status,kind", [("firing", "error_threshold"), ("resolved", "error_threshold_resolved")])
def test_to_incident_kind_follows_the_alert_status(tmp_path: Path, pmx_home: Path, status: str, kind: str) -> None:
    bridge, _ = _bridge(tmp_path)
    threshold = bridge.store.settings.rules.consecutive_failed_runs.threshold
    alerts = [a for i in range(threshold + 1)
              for a in bridge.store.dag_run_finished("d", f"r{i}", failed=i < threshold)]
    (alert,) = [a for a in alerts if a.status == status]
    assert to_incident(alert).kind == kind


def test_a_paged_streak_is_resolved_at_pagerduty_and_slack(
    receivers: StandIns, pmx_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PMX_STATSD_ENABLED", "false")
    bridge, written = _bridge(tmp_path)
    threshold = bridge.store.settings.rules.consecutive_failed_runs.threshold
    worker = OutboxWorker(runs=FakeRuns(), facts=FakeFacts())
    try:
        _runs(bridge, "auto_trader", ["failed"] * threshold)
        key = written[-1]["dedup_key"]
        run_until(worker, lambda: receivers.pd.alerts.get(key) == "triggered")
        bridge.dag_run_outcome({"dag_id": "auto_trader", "run_id": "good", "state": "success"})
        run_until(worker, lambda: receivers.pd.alerts.get(key) == "resolved" and len(receivers.slack.messages()) == 2)
    finally:
        worker.pool.shutdown(wait=True)
    assert [e["event_action"] for e in receivers.pd.events() if e["dedup_key"] == key] == ["trigger", "resolve"]
    page, end = receivers.slack.messages()
    assert "[CRITICAL]" in page["text"] and "[RESOLVED]" in end["text"]
    assert end["metadata"]["event_payload"] == {
        "delivery_key": f"error_threshold_resolved|{key}|slack|notify", "dedup_key": key,
        "kind": "error_threshold_resolved"}
