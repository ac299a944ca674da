"""The incident contract, the durable submission and routing by severity."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts import alerting_config
from alerts.alerting_config import load_alerting
from alerts.incident import Incident, sla_dedup_key
from alerts.outbox import Outbox
from alerts.router import route, submit
from foundation.pipeline_logger import read_events


def incident(**fields: object) -> Incident:
    base: dict[str, object] = {
        "kind": "sla_miss",
        "dedup_key": "pmx-sla/d/s/r",
        "severity": "critical",
        "summary": "late",
        "dag_id": "d",
        "run_id": "r",
        "details": {"sla": "s"},
    }
    base.update(fields)
    return Incident(**base)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _fresh() -> None:
    alerting_config.clear_cache()


def test_incident_round_trips_through_json() -> None:
    original = incident(links={"run": "http://x"}, created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert Incident.from_json(original.to_json()) == original


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"severity": "fatal"}, "Incident.severity = 'fatal'"),
        ({"dedup_key": ""}, "dedup_key must not be empty"),
    ],
    ids=["unknown-severity", "empty-dedup-key"],
)
def test_incident_rejects_bad_fields(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        incident(**fields)


def test_naive_created_at_is_taken_as_utc() -> None:
    assert incident(created_at=datetime(2026, 1, 1)).created_at.tzinfo is UTC


def test_sla_dedup_key_is_stable_per_dag_sla_and_run() -> None:
    assert (
        sla_dedup_key("daily_etl", "daily_etl_ready", "scheduled__x")
        == "pmx-sla/daily_etl/daily_etl_ready/scheduled__x"
    )


def test_submit_stores_once_per_kind_and_dedup_key(pmx_home: Path) -> None:
    submit(incident())
    submit(incident(summary="again"))
    submit(incident(kind="sla_recovered"))
    outbox = Outbox()
    assert outbox.find("sla_miss", "pmx-sla/d/s/r")["summary"] == "late"  # type: ignore[index]
    assert outbox.find("sla_recovered", "pmx-sla/d/s/r") is not None
    events = [e for e in read_events(pmx_home / "logs" / "pipeline") if e["event"] == "alert_submitted"]
    assert [e["duplicate"] for e in events] == [False, True, False]


def test_submit_never_raises_and_counts_its_failure(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = pmx_home / "not-a-dir"
    blocker.write_text("a file where the outbox directory should be")
    monkeypatch.setenv("PMX_ALERTS_OUTBOX", str(blocker / "outbox.sqlite"))
    submit(incident())  # must not raise
    errors = [
        e
        for e in read_events(pmx_home / "logs" / "pipeline", "events")
        if e["event"] == "observability_failure" and e["component_failed"] == "alerts"
    ]
    assert errors and errors[0]["reason"] == "submit" and errors[0]["dedup_key"] == "pmx-sla/d/s/r"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        (
            "critical",
            [("pagerduty", "trigger"), ("slack", "notify"), ("local", "notify")],
        ),  # email is disabled in config/alerting.yml
        ("error", [("pagerduty", "trigger"), ("slack", "notify"), ("local", "notify")]),
        ("warning", [("slack", "notify"), ("local", "notify")]),
        ("info", [("slack", "notify"), ("local", "notify")]),
    ],
    ids=["critical", "error", "warning", "info"],
)
def test_route_by_severity(pmx_home: Path, severity: str, expected: list[tuple[str, str]]) -> None:
    assert route(incident(severity=severity), load_alerting()) == expected


def test_an_sla_can_name_its_own_channels(pmx_home: Path) -> None:
    routed = route(
        incident(severity="info", details={"sla": "s", "channels": ["pagerduty"]}), load_alerting()
    )
    assert routed == [("pagerduty", "trigger")]


def test_retry_delays_grow_exponentially_up_to_the_cap(pmx_home: Path) -> None:
    policy = load_alerting().retry
    delays = [policy.delay(n) for n in range(1, 12)]
    assert delays[:4] == [1, 2, 4, 8]
    assert max(delays) == policy.max_delay_seconds == 300
