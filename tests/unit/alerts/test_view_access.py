"""Who may read and acknowledge SLA misses: real JWTs from Airflow's SimpleAuthManager, through a TestClient.

Roles (SimpleAuthManager): none -> nothing; VIEWER -> read; USER and up -> edit DAGs (acknowledge).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alerts.incident import Incident
from alerts.outbox import Outbox
from alerts.router import submit
from foundation.pipeline_logger import read_events
from tests.unit.alerts.freshness_incidents import freshness_miss

ROUTES = ["/api/misses", "/ui", "/runbook"]
USERS = {"nora": None, "vera": "viewer", "edith": "user", "ada": "admin"}


def miss(dag_id: str, run_id: str, deadline: str = "2026-03-02T15:05:00.000000Z") -> Incident:
    return Incident(
        kind="sla_miss",
        dedup_key=f"pmx-sla/{dag_id}/{dag_id}_sla/{run_id}",
        severity="critical",
        summary=f"SLA missed: {dag_id}",
        dag_id=dag_id,
        run_id=run_id,
        links={"run": f"http://ui/dags/{dag_id}/runs/{run_id}"},
        details={"sla": f"{dag_id}_sla", "deadline": deadline},
    )


@pytest.fixture(scope="module")
def tokens(airflow_metadata: Path) -> dict[str, str]:
    """A signed Airflow token per user (the metadata database checks token revocation)."""
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = create_auth_manager()
    return {name: manager.generate_jwt(SimpleAuthManagerUser(username=name, role=role))
            for name, role in USERS.items()}


@pytest.fixture
def view(pmx_home: Path, tokens: dict[str, str]) -> Iterator[Any]:
    """A TestClient of the view with misses of daily_etl and auto_trader in the outbox."""
    from fastapi.testclient import TestClient

    from alerts.ui import create_app

    submit(miss("daily_etl", "r1"))
    submit(miss("auto_trader", "r2"))
    with TestClient(create_app()) as client:
        yield client


def as_user(name: str | None, tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[name]}"} if name else {}


def incident_id(dag_id: str, run_id: str) -> int:
    found = Outbox().find("sla_miss", f"pmx-sla/{dag_id}/{dag_id}_sla/{run_id}")
    assert found is not None
    return int(found["id"])


def ack(view: Any, ident: int, headers: dict[str, str]) -> Any:
    return view.post(f"/api/misses/{ident}/acknowledge", json={}, headers=headers)


def events(pmx_home: Path, name: str) -> list[dict[str, Any]]:
    return [e for e in read_events(pmx_home / "logs" / "pipeline") if e.get("event") == name]


@pytest.mark.parametrize("path", ROUTES)
def test_no_login_is_401_and_a_forged_token_403(view: Any, path: str) -> None:
    assert view.get(path).status_code == 401
    assert view.get(path, headers={"Authorization": "Bearer not-a-token"}).status_code == 403


@pytest.mark.parametrize("path", ROUTES)
def test_a_user_without_a_role_is_refused_every_route(view: Any, tokens: dict[str, str], path: str) -> None:
    resp = view.get(path, headers=as_user("nora", tokens))
    assert resp.status_code == 403 and "r1" not in resp.text


def test_a_user_without_a_role_cannot_acknowledge(view: Any, tokens: dict[str, str], pmx_home: Path) -> None:
    ident = incident_id("daily_etl", "r1")
    assert ack(view, ident, as_user("nora", tokens)).status_code == 403
    assert Outbox().incident(ident)["acknowledged_at"] is None  # type: ignore[index]


def test_a_viewer_reads_but_cannot_acknowledge(view: Any, tokens: dict[str, str], pmx_home: Path) -> None:
    headers = as_user("vera", tokens)
    listed = view.get("/api/misses", headers=headers)
    assert listed.status_code == 200 and {m["run_id"] for m in listed.json()["misses"]} == {"r1", "r2"}
    page = view.get("/ui", headers=headers)
    assert page.status_code == 200 and "r1" in page.text
    assert "Acknowledge</button>" not in page.text and "not acknowledged" in page.text
    ident = incident_id("daily_etl", "r1")
    refused = ack(view, ident, headers)
    assert refused.status_code == 403
    assert Outbox().incident(ident)["acknowledged_at"] is None  # type: ignore[index]
    assert [(e["incident_id"], e["by"]) for e in events(pmx_home, "sla_miss_acknowledge_denied")] == [
        (ident, "vera")
    ]
    assert events(pmx_home, "sla_miss_acknowledged") == []


def test_an_editor_acknowledges_and_the_event_names_them(view: Any, tokens: dict[str, str],
                                                         pmx_home: Path) -> None:
    headers = as_user("edith", tokens)
    assert "Acknowledge</button>" in view.get("/ui", headers=headers).text
    ident = incident_id("daily_etl", "r1")
    assert view.post(f"/api/misses/{ident}/acknowledge", content="x", headers=headers).status_code == 415
    resp = ack(view, ident, headers)
    assert resp.status_code == 200 and resp.json() == {"id": ident, "acknowledged": True, "changed": True}
    assert ack(view, ident, as_user("ada", tokens)).json()["changed"] is False  # the first one wins
    done = [e for e in events(pmx_home, "sla_miss_acknowledged") if e["changed"]]
    assert [(e["incident_id"], e["dag_id"], e["by"]) for e in done] == [(ident, "daily_etl", "edith")]
    listed = view.get("/api/misses", params={"dag_id": "daily_etl"}, headers=headers).json()["misses"]
    assert [m["acknowledged_by"] for m in listed] == ["edith"]


def test_freshness_misses_are_read_with_asset_access_and_acknowledged_with_asset_edit_access(
        view: Any, tokens: dict[str, str], pmx_home: Path) -> None:
    stale = freshness_miss()
    submit(stale)
    found = Outbox().find("freshness_miss", stale.dedup_key)
    assert found is not None
    ident = int(found["id"])
    listed = view.get("/api/misses", headers=as_user("vera", tokens)).json()["misses"]
    (row,) = [m for m in listed if m["kind"] == "freshness_miss"]
    assert (row["id"], row["asset"], row["dag_id"], row["sla"], row["still_late"]) == (
        ident, "portfolio_ohlcv", None, "ohlcv_daily", True)
    assert row["local"]["deadline"] == "2026-12-02 07:15:00 EST"  # the freshness SLA's own time zone
    assert view.get("/api/misses", params={"dag_id": "daily_etl"},
                    headers=as_user("vera", tokens)).json()["total"] == 1  # a DAG filter shows runs only
    page = view.get("/ui", headers=as_user("edith", tokens)).text
    assert "asset portfolio_ohlcv" in page and "still stale" in page
    assert 'title="needs edit access to assets"' in page  # edith may acknowledge DAG misses, not data ones
    assert ack(view, ident, as_user("vera", tokens)).status_code == 403
    assert ack(view, ident, as_user("edith", tokens)).status_code == 403
    assert Outbox().incident(ident)["acknowledged_at"] is None  # type: ignore[index]
    assert f'ack({ident})' in view.get("/ui", headers=as_user("ada", tokens)).text
    assert ack(view, ident, as_user("ada", tokens)).json() == {"id": ident, "acknowledged": True, "changed": True}


class NoAssetsManager:
    """A SimpleAuthManager that lets nobody read or change assets."""

    def __new__(cls) -> Any:
        from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

        class Manager(SimpleAuthManager):
            def is_authorized_asset(self, *, method: Any, user: Any, details: Any = None) -> bool:
                return False

        return Manager()


def test_without_asset_access_freshness_misses_stay_hidden(view: Any, tokens: dict[str, str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.api_fastapi import app as airflow_app

    monkeypatch.setattr(airflow_app._AuthManagerState, "instance", NoAssetsManager())
    stale = freshness_miss()
    submit(stale)
    headers = as_user("ada", tokens)
    assert {m["kind"] for m in view.get("/api/misses", headers=headers).json()["misses"]} == {"sla_miss"}
    assert "portfolio_ohlcv" not in view.get("/ui", headers=headers).text
    found = Outbox().find("freshness_miss", stale.dedup_key)
    assert found is not None and ack(view, int(found["id"]), headers).status_code == 404  # not revealed


class OneDagManager:
    """A SimpleAuthManager that lets non-admins read and edit ``daily_etl`` only (per-DAG rules)."""

    def __new__(cls) -> Any:
        from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

        class Manager(SimpleAuthManager):
            def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None,
                                  details: Any = None) -> bool:
                if details is not None and details.id and details.id != "daily_etl":
                    return False
                return super().is_authorized_dag(method=method, user=user, access_entity=access_entity,
                                                 details=details)

        return Manager()


@pytest.fixture
def one_dag_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.api_fastapi import app as airflow_app

    monkeypatch.setattr(airflow_app._AuthManagerState, "instance", OneDagManager())


def test_the_list_holds_only_dags_the_user_may_read(view: Any, tokens: dict[str, str],
                                                    one_dag_manager: None) -> None:
    headers = as_user("edith", tokens)
    assert [m["dag_id"] for m in view.get("/api/misses", headers=headers).json()["misses"]] == ["daily_etl"]
    page = view.get("/ui", headers=headers).text
    assert "r1" in page and "r2" not in page and '<option value="auto_trader"' not in page
    assert view.get("/api/misses", params={"dag_id": "auto_trader"}, headers=headers).status_code == 403
    hidden = incident_id("auto_trader", "r2")
    assert ack(view, hidden, headers).status_code == 404  # an unreadable miss is not revealed
    assert Outbox().incident(hidden)["acknowledged_at"] is None  # type: ignore[index]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/api/misses/99999999999999999999999/acknowledge", 422, id="beyond-int64"),
        pytest.param(f"/api/misses/{2**63}/acknowledge", 422, id="int64-max-plus-one"),
        pytest.param("/api/misses/0/acknowledge", 422, id="zero"),
        pytest.param(f"/api/misses/{2**63 - 1}/acknowledge", 404, id="int64-max"),
        pytest.param("/api/misses/12345/acknowledge", 404, id="unknown"),
    ],
)
def test_oversized_or_unknown_ids_are_422_or_404_not_500(view: Any, tokens: dict[str, str], path: str,
                                                         status: int) -> None:
    assert view.post(path, json={}, headers=as_user("ada", tokens)).status_code == status


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "99999999999999999999999"},
        {"since": "inf"},
        {"until": "nan"},
        {"since": "1e400"},
        {"dag_id": "x" * 300},
    ],
    ids=["limit", "since-inf", "until-nan", "since-overflow", "long-dag-id"],
)
def test_oversized_query_values_are_422(view: Any, tokens: dict[str, str], params: dict[str, str]) -> None:
    assert view.get("/api/misses", params=params, headers=as_user("ada", tokens)).status_code == 422


def test_times_are_shown_in_the_sla_timezone_and_utc(view: Any, tokens: dict[str, str]) -> None:
    headers = as_user("vera", tokens)
    item = view.get("/api/misses", params={"dag_id": "daily_etl"}, headers=headers).json()["misses"][0]
    assert item["timezone"] == "America/New_York"
    assert item["deadline"] == "2026-03-02T15:05:00.000000Z"
    assert item["local"]["deadline"] == "2026-03-02 10:05:00 EST"
    page = view.get("/ui", params={"dag_id": "daily_etl"}, headers=headers).text
    assert "2026-03-02 15:05:00 UTC" in page and "2026-03-02 10:05:00 EST" in page
    assert "(America/New_York)" in page


def test_a_summer_deadline_is_shown_in_daylight_time(pmx_home: Path) -> None:
    from zoneinfo import ZoneInfo

    from alerts.misses import list_misses

    submit(miss("daily_etl", "r9", deadline="2026-07-01T13:05:00.000000Z"))
    [item] = list_misses(Outbox(), default_tz=ZoneInfo("America/New_York"))
    assert item["local"]["deadline"] == "2026-07-01 09:05:00 EDT"
    assert list_misses(Outbox())[0]["local"]["deadline"] is None  # no timezone: UTC only


def test_a_not_configured_channel_is_shown_neutrally() -> None:
    from alerts.ui_page import render_page

    item = {
        "id": 1, "dag_id": "daily_etl", "run_id": "r1", "sla": "s", "severity": "critical",
        "deadline": None, "detected_at": None, "late_seconds": None, "still_late": True, "run_state": None,
        "acknowledged_at": None, "acknowledged_by": None, "resolved_at": None, "links": {},
        "deliveries": [{"channel": "pagerduty", "action": "trigger", "status": "not_configured",
                        "last_error": None}],
        "recovery_deliveries": [],
    }
    page = render_page([item], ["daily_etl"], None, "7d")
    assert '<span class="d not_configured"' in page and "pagerduty:not configured" in page
    assert ".d.not_configured{background:#eee;color:#666}" in page and "dead_letter\"" not in page
