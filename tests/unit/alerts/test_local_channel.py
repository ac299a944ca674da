"""The embedded default's local channel: a JSON-lines file under PMX_HOME that needs no credentials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts import alerting_config
from alerts.alerting_config import ChannelConfig, load_alerting
from alerts.channels import FileChannel, build_channels
from alerts.delivery import Deliverer
from alerts.incident import Incident
from alerts.misses import list_misses
from alerts.outbox import Outbox
from alerts.router import submit


def _miss(key: str = "pmx-sla/d/s/r1") -> Incident:
    return Incident(kind="sla_miss", dedup_key=key, severity="critical", summary="late", dag_id="d", run_id="r1",
                    details={"sla": "s", "deadline": "2026-03-02T10:05:00.000000Z"})


def _drain(d: Deliverer) -> None:
    for _ in range(5):
        d.plan()
        for claim in d.claim_due(10):
            d.execute(claim)


@pytest.fixture
def shipped(pmx_home: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The shipped alerting.yml with no Connection defined at all (a fresh install)."""
    for name in ("AIRFLOW_CONN_SLACK_ALERTS", "AIRFLOW_CONN_PAGERDUTY_EVENTS", "AIRFLOW_CONN_SMTP_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    alerting_config.clear_cache()
    yield load_alerting()
    alerting_config.clear_cache()


def test_every_severity_also_routes_to_the_local_channel(shipped) -> None:  # type: ignore[no-untyped-def]
    assert shipped.channels["local"].type == "file"
    assert all("local" in names for names in shipped.routing.values())


def test_a_fresh_install_delivers_locally_and_shows_the_rest_as_not_configured(
        shipped, pmx_home: Path) -> None:  # type: ignore[no-untyped-def]
    d = Deliverer(Outbox(), shipped, build_channels(shipped), owner="test:1")
    submit(_miss())
    _drain(d)
    by_channel = {r["channel"]: r for r in d.outbox.deliveries()}
    assert {c: r["status"] for c, r in by_channel.items()} == {
        "pagerduty": "not_configured", "slack": "not_configured", "local": "delivered"}
    assert "connection 'pagerduty_events' is not defined" in by_channel["pagerduty"]["last_error"]
    assert d.outbox.stats()["dead_letters"] == 0
    (line,) = (pmx_home / "logs" / "alerts" / "incidents.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert (record["kind"], record["dedup_key"], record["action"]) == ("sla_miss", "pmx-sla/d/s/r1", "notify")
    (row,) = list_misses(d.outbox)
    assert row["delivered_to"] == ["local"] and row["not_configured"] == ["pagerduty", "slack"]
    assert {x["status"] for x in row["deliveries"]} == {"delivered", "not_configured"}


def test_a_not_configured_channel_is_replayed_once_credentials_exist(
        shipped, pmx_home: Path) -> None:  # type: ignore[no-untyped-def]
    d = Deliverer(Outbox(), shipped, build_channels(shipped), owner="test:1")
    submit(_miss())
    _drain(d)
    assert d.replay_dead_letters() == 0, "not_configured deliveries are not dead letters"
    assert d.replay_dead_letters(status="not_configured") == 2


def test_a_delivery_in_doubt_is_written_once(shipped, pmx_home: Path) -> None:  # type: ignore[no-untyped-def]
    channel = FileChannel("local", shipped.channels["local"], shipped)
    incident = _miss()
    assert channel.reconcile(incident, "notify", "k1", 0.0) is False
    assert channel.send(incident, "notify", "k1").result == "delivered"
    assert channel.reconcile(incident, "notify", "k1", 0.0) is True
    assert channel.reconcile(incident, "notify", "k2", 0.0) is False


@pytest.mark.parametrize(("fields", "message"), [
    ({"type": "file"}, "a file channel needs `path`"),
    ({"type": "slack", "mode": "webhook"}, "a slack channel needs `conn_id`"),
])
def test_channel_config_errors(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChannelConfig(**fields)  # type: ignore[arg-type]
