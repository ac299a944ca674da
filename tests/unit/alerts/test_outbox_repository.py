"""The outbox repository: every statement on the outbox is an ``Outbox`` method; alert failures are reported once.

Tests taking ``state_backend`` run on both backends: a SQLite file under ``pmx_home``, then a throw-away
PostgreSQL database named by ``PMX_ALERTS_OUTBOX_DSN``.
"""

from __future__ import annotations

import multiprocessing
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts import alerting_config
from alerts.incident import Incident
from alerts.outbox import DEAD_LETTER, Outbox
from alerts.outbox_worker import OutboxWorker
from alerts.router import submit
from foundation.config_loader import ConfigError
from foundation.paths import REPO_ROOT
from foundation.pipeline_logger import read_events
from foundation.sql_store import StoreLocation
from scripts import error_monitor
from tests.support import SPAWN, free_port, run_in_processes
from tests.unit.alerts.fake_facts import FakeFacts
from tests.unit.alerts.freshness_incidents import freshness_miss, freshness_recovery

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


def test_submission_is_idempotent_and_stores_the_sla_columns(state_backend: str) -> None:
    outbox = Outbox()
    first, created = outbox.add_incident(miss())
    again, created_again = outbox.add_incident(miss())
    assert (first, created) == (again, True) and created_again is False
    row = outbox.find("sla_miss", "pmx-sla/d/s/r1")
    assert row is not None and (row["sla"], row["deadline_at"]) == ("s", "2026-03-02T10:05:00.000000Z")
    assert [m["id"] for m in outbox.sla_misses()] == [first] and outbox.miss_dag_ids() == ["d"]
    assert [r["id"] for r in outbox.open_misses(0.0)] == [first]
    assert outbox.open_miss_deadlines() == [("d", "s", "2026-03-02T10:05:00.000000Z")]


def test_freshness_misses_are_listed_on_request_with_their_recovery(state_backend: str) -> None:
    outbox = Outbox()
    run_miss, _ = outbox.add_incident(miss())
    stale = freshness_miss()
    data_miss, _ = outbox.add_incident(stale)
    assert [m["id"] for m in outbox.sla_misses()] == [run_miss]  # run SLAs only, unless asked
    assert [m["id"] for m in outbox.sla_misses(dag_ids=[])] == []
    recovery_id = outbox.resolve_incident(data_miss, freshness_recovery(stale), 7200.0)
    listed = {m["id"]: m for m in outbox.sla_misses(dag_ids=[], freshness=True)}
    assert list(listed) == [data_miss]  # no readable DAG, but assets are readable
    assert (listed[data_miss]["recovery_id"], listed[data_miss]["late_seconds"]) == (recovery_id, 7200.0)
    both = outbox.sla_misses(freshness=True)
    assert [m["id"] for m in both] == [data_miss, run_miss] and both[1]["recovery_id"] is None
    assert outbox.sla_misses(dag_id="d", freshness=True)[0]["id"] == run_miss  # a DAG filter: runs only
    assert len(outbox.sla_misses(dag_id="d", freshness=True)) == 1


def test_a_claim_is_leased_once_and_its_outcome_recorded(state_backend: str) -> None:
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


def test_a_broken_delivery_is_reported_and_released(pmx_home: Path, state_backend: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    alerting_config.clear_cache()
    worker = OutboxWorker(facts=FakeFacts())
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


def test_an_unreachable_postgresql_outbox_is_reported_without_its_password(
    pmx_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.setenv("PMX_ALERTS_OUTBOX_DSN", f"postgresql://pmx:s3cret-pw-41@127.0.0.1:{port}/pmx_state")
    assert Outbox().describe() == f"postgresql://pmx:***@127.0.0.1:{port}/pmx_state"
    submit(miss())  # never raises
    (event,) = _alert_failures(pmx_home)
    assert (event["reason"], event["dedup_key"]) == ("submit", "pmx-sla/d/s/r1")
    assert event["error_type"] == "OperationalError"
    logs = "\n".join(p.read_text() for p in (pmx_home / "logs" / "pipeline").glob("*.jsonl"))
    assert "s3cret-pw-41" not in logs


def test_a_bad_outbox_dsn_in_the_environment_names_the_variable(
    pmx_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PMX_ALERTS_OUTBOX_DSN", "mysql://pmx:s3cret-pw-41@db/pmx")
    with pytest.raises(ValueError, match=r"PMX_ALERTS_OUTBOX_DSN = 'mysql://pmx:\*\*\*@db/pmx': a PostgreSQL DSN"):
        Outbox()
    submit(miss())
    (event,) = _alert_failures(pmx_home)
    assert event["reason"] == "submit" and event["error_type"] == "ConfigError"
    assert "s3cret-pw-41" not in str(event)


def test_one_worker_owns_the_outbox(state_backend: str) -> None:
    first, second = Outbox().owner_lock(), Outbox().owner_lock()
    try:
        assert first.try_acquire() and not second.try_acquire()
        first.release()
        assert second.try_acquire()
    finally:
        first.release()
        second.release()


INCIDENTS = 40


def _lease_all(location: StoreLocation, owner: str, start: multiprocessing.synchronize.Barrier,
               out: multiprocessing.Queue) -> None:
    outbox = Outbox(location)
    start.wait(60)
    leased: list[int] = []
    while claims := outbox.claim_due(owner, 2, 60.0):
        leased += [c.incident_id for c in claims]
    out.put(leased)


def test_two_processes_never_lease_the_same_incident(state_backend: str) -> None:
    outbox = Outbox()
    for n in range(INCIDENTS):
        outbox.add_incident(miss(run_id=f"r{n}"))
    for incident_id, incident in outbox.unrouted(INCIDENTS):
        outbox.plan_deliveries(incident_id, incident, lambda closed: [("slack", "notify", None)])
    start = SPAWN.Barrier(2)
    first, second = run_in_processes(_lease_all, [(outbox.location, f"w{n}", start) for n in range(2)])
    assert not set(first) & set(second) and sorted(first + second) == sorted(r["id"] for r in outbox.sla_misses())
    assert {r["attempts"] for r in outbox.delivery_listing()} == {1}  # each delivery leased exactly once


def _outbox_section(config_copy: Path, **outbox: str) -> None:
    path = config_copy / "alerting.yml"
    data = yaml.safe_load(path.read_text())
    data["outbox"] = {**data["outbox"], **outbox}
    path.write_text(yaml.safe_dump(data))
    alerting_config.clear_cache()


def test_postgresql_without_a_dsn_names_the_file_and_key(config_copy: Path) -> None:
    _outbox_section(config_copy, backend="postgresql")
    with pytest.raises(ConfigError, match=r"alerting.yml: outbox.dsn = '<missing>': .*backend postgresql needs"):
        alerting_config.load_alerting()
    alerting_config.clear_cache()


@pytest.mark.postgres
def test_the_config_file_selects_the_postgresql_outbox(config_copy: Path, postgres_dsn: str) -> None:
    _outbox_section(config_copy, backend="postgresql", dsn=postgres_dsn)
    outbox = Outbox()
    assert outbox.location.is_postgresql and outbox.path is None
    assert outbox.add_incident(miss()) == (1, True) and outbox.find("sla_miss", "pmx-sla/d/s/r1") is not None
    assert not (config_copy.parent / "pmx_home" / "data" / "alerts").exists()  # no SQLite file on the side
    alerting_config.clear_cache()


def test_incidents_since_lists_one_kind_oldest_first_with_its_details(state_backend: str) -> None:
    import time

    outbox = Outbox()
    outbox.add_incident(miss("r1", diagnosis="extract slow"))
    warning = Incident(kind="sla_warning", dedup_key="pmx-sla/d/s/r2", severity="warning", summary="may be late",
                       dag_id="d", run_id="r2", details={"sla": "s", "deadline": "2026-03-02T10:05:00Z",
                                                         "projected_finish": "2026-03-02T10:09:00Z"})
    outbox.add_incident(warning)
    outbox.add_incident(miss("r3"))
    with outbox.transaction() as conn:  # raw access: r3 was submitted an hour ago
        conn.execute("UPDATE incidents SET submitted_at = ? WHERE dedup_key = ?",
                     (time.time() - 3600, "pmx-sla/d/s/r3"))
    rows = outbox.incidents_since("sla_miss", time.time() - 7200)
    assert [r["run_id"] for r in rows] == ["r3", "r1"]
    assert rows[1]["details"]["diagnosis"] == "extract slow" and rows[1]["sla"] == "s"
    assert [r["run_id"] for r in outbox.incidents_since("sla_miss", time.time() - 60)] == ["r1"]
    assert outbox.incidents_since("sla_miss", time.time() - 7200, until=time.time() - 60)[0]["run_id"] == "r3"
    (warned,) = outbox.incidents_since("sla_warning", 0)
    assert warned["details"]["projected_finish"] == "2026-03-02T10:09:00Z" and "payload" not in warned
