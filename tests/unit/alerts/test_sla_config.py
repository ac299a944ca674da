"""config/slas.yml: the seed's SLAs, one per DAG, and bad entries failing at load with file, key, value."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts import alerting_config
from alerts.sla_config import load_sla_config, parse_duration, sla_names
from alerts.sla_schedules import cron_fires
from foundation.config_loader import ConfigError
from foundation.paths import REPO_ROOT
from orchestration.config import load_orchestration


@pytest.fixture(autouse=True)
def _fresh_caches(fresh_sla_caches: None) -> None:
    """Every test loads the SLA and alerting files anew."""


def test_the_seed_slas_are_configured_as_specified(pmx_home: Path) -> None:
    cfg = load_sla_config()
    etl = cfg.by_name("daily_etl_ready")
    assert etl is not None and etl.dag_id == "daily_etl" and etl.reference == "time_of_day"
    assert (etl.at, etl.timezone, etl.budget) == ("06:00", "America/New_York", timedelta(minutes=45))
    trader = cfg.by_name("auto_trader_cycle")
    assert trader is not None and (trader.reference, trader.budget) == ("queued", timedelta(minutes=5))
    monitoring = cfg.by_name("monitoring_cycle")
    assert monitoring is not None and (monitoring.reference, monitoring.budget) == (
        "queued",
        timedelta(minutes=10),
    )


def test_every_dag_of_the_set_has_an_sla_with_a_runbook_anchor(pmx_home: Path) -> None:
    cfg = load_sla_config()
    assert {s.dag_id for s in cfg.slas} == set(load_orchestration().dags)
    runbook = (REPO_ROOT / "docs" / "slas.md").read_text()
    for spec in cfg.slas:
        assert spec.runbook.startswith("#")
        assert f'<a id="{spec.runbook[1:]}"></a>' in runbook, spec.name
    assert sla_names() == [s.name for s in cfg.slas]


def test_every_reference_type_is_used(pmx_home: Path) -> None:
    assert {s.reference for s in load_sla_config().slas} == {
        "scheduled",
        "queued",
        "time_of_day",
        "average_runtime",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45m", timedelta(minutes=45)),
        ("1h30m", timedelta(minutes=90)),
        ("90s", timedelta(seconds=90)),
        ("2h", timedelta(hours=2)),
        ("0.5s", timedelta(seconds=0.5)),
        ("28d", timedelta(days=28)),
    ],
    ids=["minutes", "hours-minutes", "seconds", "hours", "fraction", "days"],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["-5m", "0m", "45", "five minutes", ""], ids=["negative", "zero", "no-unit", "words", "empty"]
)
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def _broken_config(tmp: Path, edit: Any) -> Path:
    target = tmp / "config"
    shutil.copytree(REPO_ROOT / "config", target)
    data = yaml.safe_load((target / "slas.yml").read_text())
    edit(data)
    (target / "slas.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    return target


BAD_ENTRIES = [
    (
        "unknown-dag",
        lambda d: d["slas"]["auto_trader_cycle"].update(dag_id="auto_trade"),
        "slas.auto_trader_cycle.dag_id",
        "'auto_trade'",
        "unknown DAG",
    ),
    (
        "negative-interval",
        lambda d: d["slas"]["auto_trader_cycle"].update(interval="-5m"),
        "slas.auto_trader_cycle.interval",
        "'-5m'",
        "must be positive",
    ),
    (
        "unknown-channel",
        lambda d: d["slas"]["daily_etl_ready"].update(channels=["pagerduty", "teams"]),
        "slas.daily_etl_ready.channels[1]",
        "'teams'",
        "unknown channel",
    ),
    (
        "unknown-reference",
        lambda d: d["slas"]["monitoring_cycle"].update(reference="finished"),
        "slas.monitoring_cycle.reference",
        "'finished'",
        "Input should be",
    ),
    (
        "time-of-day-without-at",
        lambda d: d["slas"]["daily_etl_ready"].pop("at"),
        "slas.daily_etl_ready",
        "",
        "needs `at`",
    ),
    (
        "bad-clock",
        lambda d: d["slas"]["daily_etl_ready"].update(at="6am"),
        "slas.daily_etl_ready.at",
        "'6am'",
        "should match pattern",
    ),
    (
        "time-of-day-on-hourly-dag",
        lambda d: d["slas"]["monitoring_cycle"].update(reference="time_of_day", at="06:00", interval=None),
        "slas.monitoring_cycle.reference",
        "'time_of_day'",
        "does not fire at one fixed time of day",
    ),
    (
        "other-timezone",
        lambda d: d["slas"]["daily_etl_ready"].update(timezone="Europe/London"),
        "slas.daily_etl_ready.timezone",
        "'Europe/London'",
        "daylight saving",
    ),
    (
        "typo-key",
        lambda d: d["slas"]["auto_trader_cycle"].update(intervall="5m"),
        "slas.auto_trader_cycle.intervall",
        "'5m'",
        "Extra inputs are not permitted",
    ),
    (
        "objective-of-one",
        lambda d: d["slas"]["auto_trader_cycle"].update(objective=1),
        "slas.auto_trader_cycle.objective",
        "1",
        "less than 1",
    ),
    (
        "objective-as-percent",
        lambda d: d["slas"]["auto_trader_cycle"].update(objective=99),
        "slas.auto_trader_cycle.objective",
        "99",
        "less than 1",
    ),
    (
        "zero-objective",
        lambda d: d["slas"]["auto_trader_cycle"].update(objective=0),
        "slas.auto_trader_cycle.objective",
        "0",
        "greater than 0",
    ),
    (
        "bad-slo-window",
        lambda d: d["slas"]["auto_trader_cycle"].update(slo_window="4 weeks"),
        "slas.auto_trader_cycle.slo_window",
        "'4 weeks'",
        "expected a duration",
    ),
    (
        "slo-window-without-objective",
        lambda d: d["slas"]["sanitize_caches_done"].update(slo_window="7d"),
        "slas.sanitize_caches_done",
        "",
        "`slo_window` needs an `objective`",
    ),
    (
        "objective-tighter-than-the-run-count",
        lambda d: d["slas"]["daily_etl_ready"].update(objective=0.99),
        "slas.daily_etl_ready.objective",
        "0.99",
        "runs 20 time(s) in 28d: an objective of 0.99 needs 100 runs to allow one late run; choose at most 0.95",
    ),
    (
        "slo-window-too-short-for-a-daily-dag",
        lambda d: d["slas"]["env_sanity_gate"].update(slo_window="7d"),
        "slas.env_sanity_gate.objective",
        "0.95",
        "runs 5 time(s) in 7d",
    ),
    (
        "objective-on-a-weekly-dag",
        lambda d: d["slas"]["ts_threshold_sweep_done"].update(objective=0.9),
        "slas.ts_threshold_sweep_done.objective",
        "0.9",
        "runs 4 time(s) in 28d: an objective of 0.9 needs 10 runs",
    ),
    (
        "budget-unknown-dag",
        lambda d: d["task_budgets"][0].update(dag_id="nope"),
        "task_budgets[0].dag_id",
        "'nope'",
        "unknown DAG",
    ),
]


@pytest.mark.parametrize(
    ("edit", "key", "value", "problem"), [b[1:] for b in BAD_ENTRIES], ids=[b[0] for b in BAD_ENTRIES]
)
def test_bad_entries_fail_at_load_naming_file_key_and_value(
    pmx_home: Path, tmp_path: Path, edit: Any, key: str, value: str, problem: str
) -> None:
    directory = _broken_config(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        load_sla_config(directory)
    message = str(err.value)
    assert str(directory / "slas.yml") in message
    assert f": {key}" in message and value in message and problem in message


def test_an_unknown_channel_in_alert_routing_is_reported_with_its_key(pmx_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", target)
    data = yaml.safe_load((target / "alerting.yml").read_text())
    data["routing"]["warning"] = ["slack", "sms"]
    (target / "alerting.yml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"alerting.yml: routing.warning\[1\] = 'sms': unknown channel"):
        alerting_config.load_alerting(target)


def test_time_of_day_offsets_follow_the_schedule(pmx_home: Path) -> None:
    budgets = {s.name: s.budget for s in load_sla_config().slas if s.reference == "time_of_day"}
    assert budgets["env_sanity_gate"] == timedelta(minutes=15)  # 05:00 -> 05:15
    assert budgets["nightly_backfill_done"] == timedelta(minutes=85)  # 02:05 -> 03:30
    assert budgets["portfolio_master_premarket"] == timedelta(hours=4, minutes=25)


@pytest.mark.parametrize(
    ("sla", "objective", "window"),
    [("daily_etl_ready", 0.95, "28d"), ("ts_threshold_sweep_done", 0.75, "28d"), ("auto_trader_cycle", 0.999, "56d")],
    ids=["daily-one-miss-a-month", "weekly-one-miss-in-four", "half-hourly-two-months"],
)
def test_an_objective_that_allows_one_late_run_loads(
    pmx_home: Path, tmp_path: Path, sla: str, objective: float, window: str
) -> None:
    directory = _broken_config(tmp_path, lambda d: d["slas"][sla].update(objective=objective, slo_window=window))
    spec = load_sla_config(directory).by_name(sla)
    assert spec is not None and spec.objective == objective and spec.error_window == parse_duration(window)


def test_cron_fires_counts_from_a_monday_in_the_schedule_timezone() -> None:
    fires = cron_fires("15 5 * * 1-5", "America/New_York", timedelta(days=7))
    assert [f.strftime("%a %H:%M") for f in fires] == [f"{d} 05:15" for d in ("Mon", "Tue", "Wed", "Thu", "Fri")]
    assert len(cron_fires("*/30 7-20 * * 1-5", "UTC", timedelta(days=28))) == 28 * 20
    assert len(cron_fires("5 * * * *", "UTC", timedelta(days=28), limit=100)) == 100
