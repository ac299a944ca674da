"""The outbox state machine with scripted channels: once per channel, backoff, dead letters, in doubt.

Every test runs on both backends of the outbox (`state_backend`: SQLite, then PostgreSQL).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from alerts.alerting_config import AlertingConfig
from alerts.channels import Channel, Outcome
from alerts.delivery import Deliverer
from alerts.incident import Incident
from alerts.outbox import Outbox
from alerts.router import submit
from foundation.pipeline_logger import read_events

pytestmark = pytest.mark.usefixtures("state_backend")


class Scripted(Channel):
    """A channel that answers from a script and records every send and reconcile."""

    def __init__(
        self,
        name: str,
        config: AlertingConfig,
        script: list[Outcome] | None = None,
        seen: bool | None = False,
    ) -> None:
        super().__init__(name, config.channels[name], config)
        self.script = list(script or [])
        self.sent: list[tuple[str, str, str]] = []
        self.reconciled: list[str] = []
        self.seen = seen
        self.lock = threading.Lock()

    def _send(self, incident: Incident, action: str, delivery_key: str) -> Outcome:
        with self.lock:
            self.sent.append((incident.kind, action, delivery_key))
            return self.script.pop(0) if self.script else Outcome("delivered", "", 200)

    def reconcile(self, incident: Incident, action: str, delivery_key: str, since: float) -> bool | None:
        self.reconciled.append(delivery_key)
        return self.seen


def miss(key: str = "pmx-sla/d/s/r1", severity: str = "critical", **details: Any) -> Incident:
    return Incident(
        kind="sla_miss",
        dedup_key=key,
        severity=severity,
        summary="late",
        dag_id="d",
        run_id="r1",
        details={"sla": "s", "deadline": "2026-03-02T10:05:00.000000Z", **details},
    )


def deliverer(config: AlertingConfig, **channels: Scripted) -> Deliverer:
    return Deliverer(Outbox(), config, dict(channels), owner="test:1")


def drain(d: Deliverer, rounds: int = 50) -> None:
    """Plan and deliver until nothing is due (sleeping through the short test backoff)."""
    for _ in range(rounds):
        d.plan()
        claims = d.claim_due(10)
        for claim in claims:
            d.execute(claim)
        with d.outbox.connect() as conn:
            left = conn.execute(
                "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending','sending')"
            ).fetchone()[0]
        if not claims and not left:
            return
        time.sleep(0.05)


def statuses(outbox: Outbox) -> dict[tuple[str, str], str]:
    return {(d["channel"], d["action"]): d["status"] for d in outbox.deliveries()}


def test_a_critical_miss_goes_once_to_pagerduty_and_slack(
    pmx_home: Path, quick_config: AlertingConfig
) -> None:
    pd, slack = Scripted("pagerduty", quick_config), Scripted("slack", quick_config)
    d = deliverer(quick_config, pagerduty=pd, slack=slack)
    submit(miss())
    submit(miss())  # a re-run callback
    drain(d)
    drain(d)
    assert [s[1] for s in pd.sent] == ["trigger"] and [s[1] for s in slack.sent] == ["notify"]
    assert statuses(d.outbox) == {("pagerduty", "trigger"): "delivered", ("slack", "notify"): "delivered"}


def test_retries_back_off_then_deliver_once(pmx_home: Path, quick_config: AlertingConfig) -> None:
    failing = [Outcome("retry", "HTTP 500: boom", 500)] * 3
    pd = Scripted("pagerduty", quick_config, failing)
    d = deliverer(quick_config, pagerduty=pd, slack=Scripted("slack", quick_config))
    submit(miss())
    d.plan()
    (claim, _) = sorted(d.claim_due(10), key=lambda c: c.channel)
    before = time.time()
    assert d.execute(claim) == "retry"
    (row,) = [r for r in d.outbox.deliveries() if r["channel"] == "pagerduty"]
    assert row["status"] == "pending" and row["last_error"] == "HTTP 500: boom" and row["attempts"] == 1
    assert row["next_attempt_at"] >= before + quick_config.retry.delay(1)
    assert d.claim_due(10) == []  # not due yet: backoff
    drain(d)
    assert len(pd.sent) == 4 and statuses(d.outbox)[("pagerduty", "trigger")] == "delivered"
    assert next(r for r in d.outbox.deliveries() if r["channel"] == "pagerduty")["attempts"] == 4


def test_a_permanent_failure_goes_to_the_dead_letter_list_with_its_reason(
    pmx_home: Path, quick_config: AlertingConfig
) -> None:
    pd = Scripted("pagerduty", quick_config, [Outcome("dead_letter", "HTTP 400: invalid routing key", 400)])
    d = deliverer(quick_config, pagerduty=pd, slack=Scripted("slack", quick_config))
    submit(miss())
    drain(d)
    (row,) = [r for r in d.outbox.deliveries() if r["channel"] == "pagerduty"]
    assert (row["status"], row["last_error"]) == ("dead_letter", "HTTP 400: invalid routing key")
    assert len(pd.sent) == 1
    errors = [
        e for e in read_events(pmx_home / "logs" / "pipeline", "errors") if e["event"] == "alert_dead_letter"
    ]
    assert errors[0]["channel"] == "pagerduty" and errors[0]["reason"] == "HTTP 400: invalid routing key"
    assert d.replay_dead_letters() == 1
    drain(d)
    assert statuses(d.outbox)[("pagerduty", "trigger")] == "delivered" and len(pd.sent) == 2


def test_a_delivery_failing_past_its_max_age_is_dead_lettered_as_expired(
    pmx_home: Path, quick_config: AlertingConfig
) -> None:
    pd = Scripted("pagerduty", quick_config, [Outcome("retry", "HTTP 503: down", 503)])
    d = deliverer(quick_config, pagerduty=pd, slack=Scripted("slack", quick_config))
    submit(miss())
    d.plan()
    with d.outbox.transaction() as conn:
        conn.execute("UPDATE deliveries SET created_at = created_at - 7200")
    for claim in d.claim_due(10):
        d.execute(claim)
    (row,) = [r for r in d.outbox.deliveries() if r["channel"] == "pagerduty"]
    assert (
        row["status"] == "dead_letter"
        and row["last_error"] == "expired after 1 attempts; last: HTTP 503: down"
    )


@pytest.mark.parametrize(
    ("severity", "channels"), [("warning", {"slack"}), ("info", {"slack"}), ("error", {"pagerduty", "slack"})]
)
def test_routing_by_severity(
    pmx_home: Path, quick_config: AlertingConfig, severity: str, channels: set[str]
) -> None:
    d = deliverer(
        quick_config, pagerduty=Scripted("pagerduty", quick_config), slack=Scripted("slack", quick_config)
    )
    submit(miss(severity=severity))
    d.plan()
    assert {r["channel"] for r in d.outbox.deliveries()} == channels


def test_a_resolve_waits_for_its_trigger_and_follows_the_miss_channels(
    pmx_home: Path, quick_config: AlertingConfig
) -> None:
    pd = Scripted("pagerduty", quick_config, [Outcome("retry", "HTTP 500", 500)])
    d = deliverer(quick_config, pagerduty=pd, slack=Scripted("slack", quick_config))
    submit(miss())
    d.plan()
    for claim in d.claim_due(10):
        d.execute(claim)  # the PagerDuty trigger fails once
    recovered = Incident(
        kind="sla_recovered",
        dedup_key="pmx-sla/d/s/r1",
        severity="critical",
        summary="ok",
        dag_id="d",
        run_id="r1",
    )
    submit(recovered)
    d.plan()
    time.sleep(quick_config.retry.max_delay_seconds)  # wait-budget: 1
    claims = d.claim_due(10)
    claimed = {(c.channel, c.action) for c in claims}
    assert ("pagerduty", "resolve") not in claimed and ("pagerduty", "trigger") in claimed
    for claim in claims:
        d.execute(claim)
    drain(d)
    assert [s[1] for s in pd.sent] == ["trigger", "trigger", "resolve"]


def test_a_dead_workers_sending_rows_are_reconciled_before_any_resend(
    pmx_home: Path, quick_config: AlertingConfig
) -> None:
    dead = deliverer(
        quick_config, pagerduty=Scripted("pagerduty", quick_config), slack=Scripted("slack", quick_config)
    )
    submit(miss())
    dead.plan()
    assert len(dead.claim_due(10)) == 2  # claimed, then the worker "dies" mid-send
    slack = Scripted("slack", quick_config, seen=True)  # the message did arrive before the crash
    pd = Scripted("pagerduty", quick_config, seen=False)  # the event did not
    heir = Deliverer(Outbox(), quick_config, {"slack": slack, "pagerduty": pd}, owner="test:2")
    assert heir.take_over_in_doubt() == 2
    drain(heir)
    assert slack.sent == [] and len(slack.reconciled) == 1
    assert [s[1] for s in pd.sent] == ["trigger"]
    assert set(statuses(heir.outbox).values()) == {"delivered"}


def test_in_doubt_and_the_channel_cannot_tell_yet_means_wait(
    pmx_home: Path, quick_config: AlertingConfig
) -> None:
    d = deliverer(
        quick_config, slack=Scripted("slack", quick_config), pagerduty=Scripted("pagerduty", quick_config)
    )
    submit(miss(severity="warning"))
    d.plan()
    d.claim_due(10)
    heir = Deliverer(
        Outbox(), quick_config, {"slack": Scripted("slack", quick_config, seen=None)}, owner="test:2"
    )
    heir.take_over_in_doubt()
    (claim,) = heir.claim_due(10)
    assert heir.execute(claim) == "retry"
    (row,) = heir.outbox.deliveries()
    assert row["in_doubt"] == 1 and row["last_error"] == "in doubt and the channel cannot be checked yet"


def test_concurrent_workers_never_send_a_delivery_twice(pmx_home: Path, quick_config: AlertingConfig) -> None:
    pd, slack = Scripted("pagerduty", quick_config), Scripted("slack", quick_config)
    for i in range(40):
        submit(miss(key=f"pmx-sla/d/s/run{i}"))
    workers = [
        Deliverer(Outbox(), quick_config, {"pagerduty": pd, "slack": slack}, owner=f"w:{n}") for n in range(4)
    ]
    workers[0].plan()
    threads = [threading.Thread(target=drain, args=(w, 200)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(s[2] for s in pd.sent + slack.sent)
    assert len(counts) == 80 and set(counts.values()) == {1}


def test_outbox_depth_and_oldest_age(pmx_home: Path, quick_config: AlertingConfig) -> None:
    d = deliverer(
        quick_config, pagerduty=Scripted("pagerduty", quick_config), slack=Scripted("slack", quick_config)
    )
    submit(miss())
    now = time.time()
    stats = d.outbox.stats(now + 10)
    assert stats["depth"] == 1 and 9 < stats["oldest_age"] < 60  # one incident, not yet routed
    d.plan()
    assert d.outbox.stats()["depth"] == 2
    drain(d)
    assert d.outbox.stats() == {"depth": 0.0, "dead_letters": 0.0, "oldest_age": 0.0}
