"""The outbox repository: every statement on the outbox is an ``Outbox`` method; alert failures are reported once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from alerts import alerting_config
from alerts.incident import Incident
from alerts.outbox import DEAD_LETTER, Outbox
from alerts.outbox_worker import OutboxWorker
from alerts.router import submit
from foundation.paths import REPO_ROOT
from foundation.pipeline_logger import read_events
from scripts import error_monitor

REPOSITORY = {"outbox.py", "outbox_schema.py"}
SQL = re.compile(r"\b(incidents|deliveries|stack_heartbeat|stack_outages)\b[^\n]*(WHERE|SET|VALUES)|"
                 r"\bconn\b|\.connect\(\)|\.transaction\(\)|\bsqlite3\b")


def miss(run_id: str = "r1", **details: Any) -> Incident:
    details = {"sla": "s", "deadline": "2026-03-02T10:05:00.000000Z", **details}
    return Incident(kind="sla_miss", dedup_key=f"pmx-sla/d/s/{run_id}", severity="critical", summary="late",
                    dag_id="d", run_id=run_id, details=details)


def test_only_the_repository_touches_the_outbox_database() -> None:
    offenders = [
        f"{path.name}:{n}: {line.strip()}"
        for path in sorted((REPO_ROOT / "alerts").glob("*.py")) if path.name not in REPOSITORY
        for n, line in enumerate(path.read_text().splitlines(), 1) if SQL.search(line)
    ]
    assert offenders == []


def test_submission_is_idempotent_and_stores_the_sla_columns(pmx_home: Path) -> None:
    outbox = Outbox()
    first, created = outbox.add_incident(miss())
    again, created_again = outbox.add_incident(miss())
    assert (first, created) == (again, True) and created_again is False
    row = outbox.find("sla_miss", "pmx-sla/d/s/r1")
    assert row is not None and (row["sla"], row["deadline_at"]) == ("s", "2026-03-02T10:05:00.000000Z")
    assert [m["id"] for m in outbox.sla_misses()] == [first] and outbox.miss_dag_ids() == ["d"]
    assert [r["id"] for r in outbox.open_misses(0.0)] == [first]
    assert outbox.open_miss_deadlines() == [("d", "s", "2026-03-02T10:05:00.000000Z")]


def test_a_claim_is_leased_once_and_its_outcome_recorded(pmx_home: Path) -> None:
    outbox = Outbox()
    incident_id, _ = outbox.add_incident(miss())
    ((pending_id, incident),) = outbox.unrouted(10)
    assert pending_id == incident_id and incident.sla == "s" and incident.deadline == "2026-03-02T10:05:00.000000Z"
    assert outbox.plan_deliveries(incident_id, incident, lambda closed: [("slack", "notify", None)]) == [
        ("slack", "notify", None)]
    assert outbox.unrouted(10) == []
    (claim,) = outbox.claim_due("w1", 5, 30.0)
    assert (claim.channel, claim.action, claim.attempts) == ("slack", "notify", 1)
    assert outbox.claim_due("w2", 5, 30.0) == []  # leased by w1
    assert outbox.take_over_in_doubt("w1") == 0 and outbox.take_over_in_doubt("w2") == 1
    (again,) = outbox.claim_due("w2", 5, 30.0)
    assert again.in_doubt and again.attempts == 2
    outbox.mark_terminal(again.delivery_id, DEAD_LETTER, "HTTP 404")
    assert outbox.stats()["dead_letters"] == 1.0
    assert outbox.requeue(DEAD_LETTER, [again.delivery_id]) == 1
    assert [(r["status"], r["attempts"]) for r in outbox.delivery_listing()] == [("pending", 0)]


def test_sla_details_are_checked_when_the_incident_is_built() -> None:
    with pytest.raises(ValueError, match="'sla'"):
        Incident(kind="sla_miss", dedup_key="k", severity="error", summary="late", details={"deadline": None})
    with pytest.raises(ValueError, match="'channels'"):
        miss(channels="slack")
    with pytest.raises(ValueError, match="'deadline'"):
        miss(deadline=1234.5)
    with pytest.raises(ValueError, match="'late_seconds'"):
        Incident(kind="sla_recovered", dedup_key="k", severity="error", summary="ok", details={"late_seconds": "1m"})
    assert miss(channels=["slack"]).channels == ["slack"] and miss().channels is None
    assert Incident(kind="error_threshold", dedup_key="k", severity="error", summary="x",
                    details={"channels": "free-form"}).sla is None  # other kinds keep free-form details


def _alert_failures(home: Path) -> list[dict[str, Any]]:
    return [e for e in read_events(home / "logs" / "pipeline", "events")
            if e["event"] == "observability_failure" and e["component_failed"] == "alerts"]


def test_alert_failures_are_observability_failures_the_error_monitor_counts(
    pmx_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = pmx_home / "not-a-dir"
    blocker.write_text("a file where the outbox directory should be")
    monkeypatch.setenv("PMX_ALERTS_OUTBOX", str(blocker / "outbox.sqlite"))
    submit(miss())
    (event,) = _alert_failures(pmx_home)
    assert (event["reason"], event["kind"], event["dedup_key"], event["dag_id"]) == (
        "submit", "sla_miss", "pmx-sla/d/s/r1", "d")
    assert event["error_type"] and event["level"] == "error"  # a lost alert is an error: also in errors.jsonl
    assert [e["reason"] for e in read_events(pmx_home / "logs" / "pipeline", "errors")
            if e["event"] == "observability_failure"] == ["submit"]
    summary = error_monitor.history(list(read_events(pmx_home / "logs" / "pipeline", "events")), None, 10)
    assert summary["observability_failures"] == {"alerts:submit": 1}


def test_a_broken_delivery_is_reported_and_released(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alerting_config.clear_cache()
    worker = OutboxWorker()
    submit(miss())
    worker.deliverer.plan()
    (claim,) = worker.deliverer.claim_due(1)

    def broken(_: Any) -> str:
        raise RuntimeError("channel exploded")

    monkeypatch.setattr(worker.deliverer, "execute", broken)
    assert worker._execute(claim) == "error"
    (event,) = _alert_failures(pmx_home)
    assert (event["reason"], event["dedup_key"], event["error_type"]) == ("deliver", "pmx-sla/d/s/r1", "RuntimeError")
    worker.pool.shutdown(wait=True)
