"""Fixtures of the alerts tests: Slack / PagerDuty stand-ins on 127.0.0.1 and env-var Connections to them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from alerts import alerting_config, sla_config
from alerts.alerting_config import AlertingConfig, RetryPolicy, load_alerting
from tests.harness.receivers import PagerDutyStandIn, SlackStandIn, make_tls


@dataclass
class StandIns:
    """Both stand-ins and the CA that signs the PagerDuty one."""

    slack: SlackStandIn
    pd: PagerDutyStandIn
    ca: Path


@pytest.fixture(scope="session")
def stand_ins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIns]:
    """Stand-ins shared by the module tests (reset per test by ``receivers``)."""
    tls, ca = make_tls(tmp_path_factory.mktemp("tls"))
    slack, pd = SlackStandIn().start(), PagerDutyStandIn(tls=tls).start()
    yield StandIns(slack, pd, ca)
    slack.stop()
    pd.stop()


@pytest.fixture
def receivers(stand_ins: StandIns, pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> StandIns:
    """Clean stand-ins plus the ``slack_alerts`` / ``pagerduty_events`` Connections pointing at them."""
    for r in (stand_ins.slack, stand_ins.pd):
        r.recover()
        with r.lock:
            r.accepted.clear()
            r.attempts.clear()
    stand_ins.pd.alerts.clear()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_ALERTS",
        json.dumps(
            {
                "conn_type": "slack",
                "password": stand_ins.slack.token,
                "extra": {"base_url": stand_ins.slack.api_url},
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_ALERTS_WEBHOOK",
        json.dumps(
            {
                "conn_type": "slackwebhook",
                "password": stand_ins.slack.webhook_token,
                "host": f"{stand_ins.slack.url}/services",
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_PAGERDUTY_EVENTS",
        json.dumps(
            {
                "conn_type": "pagerduty_events",
                "password": stand_ins.pd.routing_key,
                "extra": {"base_url": stand_ins.pd.url, "ca_bundle": str(stand_ins.ca)},
            }
        ),
    )
    alerting_config.clear_cache()
    sla_config.clear_cache()
    return stand_ins


@pytest.fixture
def quick_config(pmx_home: Path) -> AlertingConfig:
    """The project's alerting config with 1-second timeouts and sub-second backoff."""
    alerting_config.clear_cache()
    cfg = load_alerting()
    retry = RetryPolicy(
        initial_delay_seconds=0.05, multiplier=2, max_delay_seconds=0.2, timeout_seconds=1, max_age_hours=1
    )
    channels = dict(cfg.channels)
    channels["slack_webhook"] = channels["slack_webhook"].model_copy(update={"enabled": True})
    # the delivery-mechanics tests watch pagerduty/slack; the local file channel has tests of its own
    routing = {sev: [c for c in names if c != "local"] for sev, names in cfg.routing.items()}
    return cfg.model_copy(update={"retry": retry, "channels": channels, "routing": routing})


@pytest.fixture
def fresh_sla_caches() -> Iterator[None]:
    """The SLA and alerting configs are read anew inside the test, and forgotten after it."""
    sla_config.clear_cache()
    alerting_config.clear_cache()
    yield
    sla_config.clear_cache()
    alerting_config.clear_cache()
