"""slas.yml on its own: a timezone and per-SLA schedules, or a schedules file read for two keys only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.sla_config import load_sla_config
from alerts.sla_rules import rules
from foundation.config_loader import ConfigError
from foundation.paths import REPO_ROOT

ALERTING = {"channels": {"local": {"type": "file", "path": "logs/alerts/incidents.jsonl"}},
            "routing": {s: ["local"] for s in ("critical", "error", "warning", "info")}}


@pytest.fixture(autouse=True)
def _fresh_caches(fresh_sla_caches: None) -> None:
    """Every test loads the SLA and alerting files anew."""


def _config(tmp_path: Path, slas: dict[str, Any], **files: dict[str, Any]) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "alerting.yml").write_text(yaml.safe_dump(ALERTING))
    (directory / "slas.yml").write_text(yaml.safe_dump(slas, sort_keys=False))
    for name, body in files.items():
        (directory / name.replace("__", ".")).write_text(yaml.safe_dump(body))
    return directory


def _sla(dag_id: str, **fields: Any) -> dict[str, Any]:
    return {"dag_id": dag_id, "runbook": "https://wiki.example/runbook", **fields}


def test_a_foreign_sla_file_needs_nothing_but_itself(pmx_home: Path, tmp_path: Path) -> None:
    directory = _config(tmp_path, {"timezone": "Europe/Paris", "slas": {
        "orders_ready": _sla("acme_orders", reference="time_of_day", at="07:30", schedule="0 6 * * *"),
        "orders_quick": _sla("acme_orders", reference="queued", interval="5s"),
        "any_dag": _sla("whatever_dag", reference="scheduled", interval="1h"),
    }})
    cfg = load_sla_config(directory)
    ready = cfg.by_name("orders_ready")
    assert ready is not None and (ready.budget, ready.timezone) == (timedelta(minutes=90), "Europe/Paris")
    assert cfg.timezone == "Europe/Paris" and [s.name for s in cfg.for_dag("acme_orders")] == [
        "orders_ready", "orders_quick"]


def test_without_any_timezone_schedules_are_read_in_utc(pmx_home: Path, tmp_path: Path) -> None:
    directory = _config(tmp_path, {"slas": {
        "ready": _sla("acme", reference="time_of_day", at="01:00", schedule="30 0 * * *")}})
    cfg = load_sla_config(directory)
    assert cfg.timezone is None and cfg.slas[0].timezone == "UTC" and cfg.slas[0].budget == timedelta(minutes=30)


def test_a_schedules_file_gives_timezone_and_schedules_and_nothing_else(pmx_home: Path, tmp_path: Path) -> None:
    other = {"timezone": "Asia/Tokyo", "owner": "acme", "pools": {"x": 1}, "dags": {
        "acme_orders": {"schedule": "0 9 * * 1-5", "tags": ["a"], "anything": {"nested": True}},
        "acme_manual": {"description": "no schedule"}}}
    directory = _config(tmp_path, {"schedules_file": "acme.yml", "slas": {
        "orders_ready": _sla("acme_orders", reference="time_of_day", at="10:00"),
        "manual_quick": _sla("acme_manual", reference="queued", interval="1m"),
        "own_schedule": _sla("elsewhere", reference="time_of_day", at="02:00", schedule="0 1 * * *"),
    }}, acme__yml=other)
    cfg = load_sla_config(directory)
    by_name = {s.name: s for s in cfg.slas}
    assert cfg.timezone == "Asia/Tokyo"
    assert (by_name["orders_ready"].schedule, by_name["orders_ready"].budget) == ("0 9 * * 1-5", timedelta(hours=1))
    assert by_name["manual_quick"].schedule is None
    assert by_name["own_schedule"].timezone == "Asia/Tokyo"


def test_the_shipped_slas_take_their_schedules_from_orchestration_yml(pmx_home: Path) -> None:
    from orchestration.config import load_orchestration

    orch = load_orchestration()
    cfg = load_sla_config()
    assert yaml.safe_load((REPO_ROOT / "config" / "slas.yml").read_text())["schedules_file"] == "orchestration.yml"
    assert cfg.timezone == orch.timezone
    assert {s.name: s.schedule for s in cfg.slas} == {s.name: orch.dags[s.dag_id].schedule for s in cfg.slas}


BAD = [
    ("time-of-day-without-schedule",
     {"slas": {"ready": _sla("acme", reference="time_of_day", at="07:00")}}, {},
     "slas.ready.schedule", "'<missing>'", "needs the schedule of DAG 'acme'"),
    ("dag-not-in-schedules-file",
     {"schedules_file": "s.yml", "slas": {"ready": _sla("acme", reference="queued", interval="1m")}},
     {"s__yml": {"dags": {"other": {"schedule": "0 1 * * *"}}}},
     "slas.ready.dag_id", "'acme'", "unknown DAG; known: other"),
    ("missing-schedules-file",
     {"schedules_file": "nope.yml", "slas": {}}, {}, "schedules_file", "'nope.yml'", "no such YAML file"),
    ("bad-timezone", {"timezone": "Mars/Olympus", "slas": {}}, {}, "timezone", "'Mars/Olympus'", "unknown timezone"),
    ("bad-cron", {"slas": {"ready": _sla("acme", reference="queued", interval="1m", schedule="every day")}}, {},
     "slas.ready.schedule", "'every day'", "not a valid cron expression"),
]


@pytest.mark.parametrize(("slas", "files", "key", "value", "problem"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_schedules_fail_naming_file_key_and_value(pmx_home: Path, tmp_path: Path, slas: dict[str, Any],
                                                      files: dict[str, Any], key: str, value: str,
                                                      problem: str) -> None:
    directory = _config(tmp_path, slas, **files)
    with pytest.raises(ConfigError) as err:
        load_sla_config(directory)
    message = str(err.value)
    assert str(directory / "slas.yml") in message
    assert f": {key} = {value}" in message and problem in message


def test_an_sla_of_an_unknown_schedule_gets_no_repeated_miss_rule(pmx_home: Path, tmp_path: Path) -> None:
    directory = _config(tmp_path, {"slas": {
        "quick": _sla("acme", reference="queued", interval="1m"),
        "busy": _sla("acme_busy", reference="queued", interval="1m", schedule="*/5 * * * *")}})
    names = [r["alert"] for r in rules(list(load_sla_config(directory).slas), "http://x", "UTC")["groups"][0]["rules"]]
    assert names == ["PmxSlaMissed_quick", "PmxSlaMissed_busy", "PmxSlaMissedRepeatedly_busy"]
