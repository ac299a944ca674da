"""SLA misses under a real scheduler + triggerer reach Slack and PagerDuty once, and resolve on success.

Three runs go at once (tests/integration/dags/sla_scenarios.py): a scheduled run of ``sla_cron``, a manual run
of ``sla_gated`` (no logical date: deadline = queued_at + 5 s) and a run of ``sla_starved`` whose first task
waits on a pool with 0 slots. Each misses its deadline; the tests check what the stand-ins received, then
let the runs finish and check the resolve / recovered messages, the SLA-misses view and the metrics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from foundation.pipeline_logger import read_events
from tests.integration.sla_support import SlaEnv, dedup, open_pool
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2700)]  # see tests/wait_budget.py
SCENARIOS = ("sla_cron", "sla_gated", "sla_starved")
SEVERITY = {"sla_cron": "critical", "sla_gated": "error", "sla_starved": "critical"}


@dataclass
class Runs:
    """The run of each scenario and what was observed at the time of the miss."""

    run_ids: dict[str, str]
    starved_state_at_miss: str | None = None
    recovered: bool = False
    run_states: dict[str, str] = field(default_factory=dict)

    def key(self, dag_id: str) -> str:
        """Dedup key of the scenario's miss."""
        return dedup(dag_id, self.run_ids[dag_id])


def _scheduled_run(env: SlaEnv) -> str | None:
    runs = [r for r in env.stack.api.dag_runs("sla_cron") if r["run_type"] == "scheduled"]
    return runs[0]["dag_run_id"] if runs else None


@pytest.fixture(scope="module")
def runs(sla_env: SlaEnv) -> Runs:
    """Start the three scenarios and wait until each miss reached both stand-ins."""
    api = sla_env.stack.api
    run_ids = {"sla_gated": api.trigger("sla_gated"), "sla_starved": api.trigger("sla_starved")}
    api.set_paused("sla_cron", False)  # stays unpaused until its run is done: a paused DAG's tasks do not run
    try:
        run_ids["sla_cron"] = wait_for(lambda: _scheduled_run(sla_env), 180, "a scheduled run of sla_cron")
    except AssertionError:
        api.set_paused("sla_cron", True)
        raise
    result = Runs(run_ids)
    for dag_id in SCENARIOS:
        key = result.key(dag_id)
        wait_for(
            lambda key=key: sla_env.slack_messages(key, "sla_miss") and sla_env.pd_events(key, "trigger"),
            180,
            f"the miss of {dag_id} at Slack and PagerDuty",
        )
    tis = api.task_instances("sla_starved", run_ids["sla_starved"])
    result.starved_state_at_miss = tis[0]["state"]
    return result


@pytest.fixture(scope="module")
def recovered(runs: Runs, sla_env: SlaEnv) -> Runs:
    """Let every scenario run succeed and wait for the resolve and the recovered message."""
    for dag_id in ("sla_cron", "sla_gated"):
        sla_env.open_gate(dag_id, runs.run_ids[dag_id])
    open_pool(sla_env.stack, 1)
    for dag_id in SCENARIOS:
        runs.run_states[dag_id] = sla_env.stack.api.wait_for_run(dag_id, runs.run_ids[dag_id], timeout=300)[
            "state"
        ]
        if dag_id == "sla_cron":  # stop the minutely schedule; let a run created meanwhile finish too
            sla_env.stack.api.set_paused("sla_cron", True)
            sla_env.open_all_gates("sla_cron")
        key = runs.key(dag_id)
        wait_for(
            lambda key=key: (
                sla_env.pd_events(key, "resolve") and sla_env.slack_messages(key, "sla_recovered")
            ),
            120,
            f"the resolve of {dag_id}",
        )
    time.sleep(3)  # give a duplicate, if the system produced one, time to arrive before counting
    runs.recovered = True
    return runs


@pytest.mark.parametrize("dag_id", SCENARIOS)
def test_the_miss_arrives_once_with_severity_links_and_dedup_key(
    runs: Runs, sla_env: SlaEnv, dag_id: str
) -> None:
    key = runs.key(dag_id)
    (trigger,) = sla_env.pd_events(key, "trigger")
    (message,) = sla_env.slack_messages(key, "sla_miss")
    run_url = f"{sla_env.stack.layout.api_url}/dags/{dag_id}/runs/{runs.run_ids[dag_id]}"
    assert trigger["payload"]["severity"] == SEVERITY[dag_id]
    assert trigger["payload"]["summary"].startswith(f"[{SEVERITY[dag_id].upper()}] SLA {dag_id}_sla missed")
    assert trigger["payload"]["component"] == dag_id
    assert {link["text"]: link["href"] for link in trigger["links"]}["DAG run"] == run_url
    assert any(link["href"].endswith("/pmx-sla/runbook#test-scenarios") for link in trigger["links"])
    assert f"[{SEVERITY[dag_id].upper()}]" in message["text"]
    assert run_url in str(message["blocks"]) and key in str(message["blocks"])
    assert (
        trigger["payload"]["custom_details"]["deadline"] < trigger["payload"]["custom_details"]["detected_at"]
    )


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_scheduled_run_is_measured_from_its_scheduled_time(runs: Runs, sla_env: SlaEnv) -> None:
    details = sla_env.pd_events(runs.key("sla_cron"), "trigger")[0]["payload"]["custom_details"]
    assert details["variant"] == "scheduled" and details["run_type"] == "scheduled"
    assert _dt(details["deadline"]) - _dt(details["logical_date"]) == timedelta(seconds=5)
    assert _dt(details["logical_date"]).second == 0  # the cron minute, not the time the run was queued


def test_a_manual_run_is_measured_from_when_it_was_queued(runs: Runs, sla_env: SlaEnv) -> None:
    details = sla_env.pd_events(runs.key("sla_gated"), "trigger")[0]["payload"]["custom_details"]
    assert details["variant"] == "unscheduled" and details["run_type"] == "manual"
    assert details["logical_date"] is None and details["budget_seconds"] == 5.0
    assert (
        abs((_dt(details["deadline"]) - _dt(details["queued_at"]) - timedelta(seconds=5)).total_seconds())
        < 0.01
    )


def test_a_run_whose_first_task_never_started_still_misses(runs: Runs, sla_env: SlaEnv) -> None:
    assert runs.starved_state_at_miss in (None, "scheduled", "queued")


@pytest.mark.parametrize("dag_id", SCENARIOS)
def test_success_resolves_pagerduty_and_posts_how_late(recovered: Runs, sla_env: SlaEnv, dag_id: str) -> None:
    key = recovered.key(dag_id)
    assert recovered.run_states[dag_id] == "success"
    assert [e["event_action"] for e in sla_env.pd_events(key)] == ["trigger", "resolve"]
    assert sla_env.pd.alerts[key] == "resolved"
    (miss,) = sla_env.slack_messages(key, "sla_miss")
    (ok,) = sla_env.slack_messages(key, "sla_recovered")
    assert miss["received_at"] < ok["received_at"]
    assert "[RECOVERED]" in ok["text"] and " late (deadline " in ok["text"]


def test_the_view_lists_every_miss_with_delivery_and_resolution(recovered: Runs, sla_env: SlaEnv) -> None:
    token = sla_env.stack.api.token()
    resp = sla_env.ui_get("/api/misses", token)
    assert resp.status_code == 200, resp.text
    by_run = {m["run_id"]: m for m in resp.json()["misses"]}
    for dag_id in SCENARIOS:
        miss = by_run[recovered.run_ids[dag_id]]
        assert miss["dag_id"] == dag_id and miss["sla"] == f"{dag_id}_sla"
        # sla_gated routes by severity (error), which includes the local file channel of the embedded default
        assert miss["delivered_to"] == (["local", "pagerduty", "slack"] if dag_id == "sla_gated"
                                        else ["pagerduty", "slack"])
        assert miss["resolved_at"] and miss["still_late"] is False and miss["late_seconds"] > 0
        assert {d["action"] for d in miss["recovery_deliveries"]} == {"resolve", "notify"}
    only = sla_env.ui_get("/api/misses", token, dag_id="sla_gated").json()["misses"]
    assert {m["dag_id"] for m in only} == {"sla_gated"}
    future = sla_env.ui_get("/api/misses", token, since=time.time() + 3600).json()["misses"]
    assert future == []
    page = sla_env.ui_get("/ui", token, dag_id="sla_cron")
    assert page.status_code == 200 and recovered.run_ids["sla_cron"] in page.text


@pytest.mark.parametrize("path", ["/api/misses", "/ui", "/runbook"])
def test_the_view_refuses_anonymous_requests(sla_env: SlaEnv, path: str) -> None:
    assert sla_env.ui_get(path, None).status_code == 401
    assert sla_env.ui_get(path, "not-a-token").status_code == 403  # Airflow's answer to an invalid token


def test_acknowledging_a_miss_from_the_view(recovered: Runs, sla_env: SlaEnv) -> None:
    import requests

    miss = sla_env.outbox.find("sla_miss", recovered.key("sla_gated"))
    assert miss is not None
    url = f"{sla_env.stack.layout.api_url}/pmx-sla/api/misses/{miss['id']}/acknowledge"
    assert requests.post(url, json={}, timeout=30).status_code == 401
    headers = {"Authorization": f"Bearer {sla_env.stack.api.token()}"}
    resp = requests.post(url, json={}, headers=headers, timeout=30)
    assert resp.status_code == 200 and resp.json()["acknowledged"] is True
    listed = sla_env.ui_get("/api/misses", sla_env.stack.api.token(), dag_id="sla_gated").json()["misses"]
    assert [m["acknowledged_by"] for m in listed if m["id"] == miss["id"]] == ["admin"]


def _token(sla_env: SlaEnv, username: str) -> str:
    """A token of one of the session stack's users (``POST /auth/token`` with its generated password)."""
    from local_stack.api_client import AirflowApi

    home = sla_env.stack.layout.home
    return AirflowApi(sla_env.stack.layout.api_url, username=username,
                      passwords_file=home / "simple_auth_manager_passwords.json.generated").token()


def _ack(sla_env: SlaEnv, incident_id: int, token: str) -> Any:
    import requests

    url = f"{sla_env.stack.layout.api_url}/pmx-sla/api/misses/{incident_id}/acknowledge"
    return requests.post(url, json={}, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.mark.parametrize("path", ["/api/misses", "/ui", "/runbook"])
def test_the_view_refuses_a_user_without_a_role(recovered: Runs, sla_env: SlaEnv, path: str) -> None:
    token = _token(sla_env, "norole")
    assert requests_get_dags(sla_env, token) == 403  # what Airflow's own API answers the same token
    assert sla_env.ui_get(path, token).status_code == 403


def test_a_viewer_reads_misses_but_cannot_acknowledge(recovered: Runs, sla_env: SlaEnv) -> None:
    token = _token(sla_env, "viewer")
    listed = sla_env.ui_get("/api/misses", token)
    assert listed.status_code == 200
    assert {m["run_id"] for m in listed.json()["misses"]} >= set(recovered.run_ids.values())
    miss = sla_env.outbox.find("sla_miss", recovered.key("sla_starved"))
    assert miss is not None
    assert _ack(sla_env, miss["id"], token).status_code == 403
    assert _ack(sla_env, miss["id"], _token(sla_env, "norole")).status_code == 403
    assert sla_env.outbox.incident(miss["id"])["acknowledged_at"] is None  # type: ignore[index]


def test_an_editor_acknowledges_and_the_event_names_them(recovered: Runs, sla_env: SlaEnv) -> None:
    miss = sla_env.outbox.find("sla_miss", recovered.key("sla_cron"))
    assert miss is not None
    resp = _ack(sla_env, miss["id"], _token(sla_env, "editor"))
    assert resp.status_code == 200 and resp.json()["changed"] is True
    assert sla_env.outbox.incident(miss["id"])["acknowledged_by"] == "editor"  # type: ignore[index]
    events = read_events(Path(sla_env.stack.env["PMX_LOG_DIR"]) / "pipeline")
    acked = [e for e in events if e["event"] == "sla_miss_acknowledged" and e["incident_id"] == miss["id"]]
    assert [(e["by"], e["dag_id"], e["changed"]) for e in acked] == [("editor", "sla_cron", True)]


def test_an_oversized_id_is_422_not_500(sla_env: SlaEnv) -> None:
    assert _ack(sla_env, 99999999999999999999999, _token(sla_env, "admin")).status_code == 422


def requests_get_dags(sla_env: SlaEnv, token: str) -> int:
    """The status of Airflow's own ``GET /api/v2/dags`` for ``token``."""
    import requests

    return requests.get(f"{sla_env.stack.layout.api_url}/api/v2/dags",
                        headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code


def test_metrics_count_misses_deliveries_and_outbox(recovered: Runs, statsd_sink: Any) -> None:
    lines = statsd_sink.lines()
    for dag_id in SCENARIOS:
        assert any(
            line.startswith(f"pmx.sla.miss,dag_id={dag_id},sla={dag_id}_sla,severity=") for line in lines
        )
        assert any(
            line.startswith(f"pmx.sla.resolved,dag_id={dag_id},sla={dag_id}_sla:1|c") for line in lines
        )
    for channel in ("slack", "pagerduty"):
        assert any(
            line.startswith(f"pmx.alerts.delivery,channel={channel},result=delivered:") for line in lines
        )
        assert any(line.startswith(f"pmx.alerts.delivery_latency,channel={channel}:") for line in lines)
    assert any(line.startswith("pmx.alerts.outbox_depth:") for line in lines)
    assert any(line.startswith("pmx.alerts.outbox_oldest_age:") for line in lines)


def test_secrets_stay_out_of_events_logs_outbox_and_view(recovered: Runs, sla_env: SlaEnv) -> None:
    secrets = [sla_env.slack.token, sla_env.pd.routing_key]
    stack = sla_env.stack
    texts = [p.read_text(errors="replace") for p in Path(stack.env["PMX_LOG_DIR"]).rglob("*.jsonl*")]
    texts += [p.read_text(errors="replace") for p in stack.log_dir.glob("*.log")]
    texts.append(sla_env.outbox.path.read_bytes().decode("utf-8", "replace"))
    texts.append(sla_env.ui_get("/api/misses", stack.api.token()).text)
    for secret in secrets:
        assert not [t for t in texts if secret in t]
    events = list(read_events(Path(stack.env["PMX_LOG_DIR"]) / "pipeline"))
    delivered = [e for e in events if e["event"] == "alert_delivered"]
    assert {e["dedup_key"] for e in delivered} >= {recovered.key(d) for d in SCENARIOS}
