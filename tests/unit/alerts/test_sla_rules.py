"""alerts/prometheus/sla_rules.yml: generated from config/slas.yml, committed current, proven by promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from alerts import alerting_config, sla_config
from alerts.sla_config import load_slas
from alerts.sla_rules import RULES_FILE, promtool_tests, render, runs_per_day
from tests.unit.alerts._promtool import alerts_of_group, checked, committed, promtool, run_promtool_tests


@pytest.fixture(autouse=True)
def _fresh() -> None:
    sla_config.clear_cache()
    alerting_config.clear_cache()


def test_the_committed_rules_match_the_config(pmx_home: Path) -> None:
    assert RULES_FILE.read_text() == render(), "run: python -m alerts.sla_rules"


def test_every_sla_has_a_miss_alert_with_its_severity_and_runbook(pmx_home: Path) -> None:
    rules = {r["alert"]: r for r in yaml.safe_load(render())["groups"][0]["rules"]}
    for spec in load_slas():
        rule = rules[f"PmxSlaMissed_{spec.name}"]
        assert rule["labels"] == {
            "severity": spec.severity,
            "sla": spec.name,
            "dag_id": spec.dag_id,
            "routed_by": "pmx-outbox",
        }
        assert rule["annotations"]["runbook_url"].endswith(f"/pmx-sla/runbook{spec.runbook}")
    repeated = sorted(name for name in rules if name.startswith("PmxSlaMissedRepeatedly_"))
    assert repeated == [
        "PmxSlaMissedRepeatedly_auto_trader_core_cycle",
        "PmxSlaMissedRepeatedly_auto_trader_cycle",
        "PmxSlaMissedRepeatedly_monitoring_cycle",
    ]


@pytest.mark.parametrize(
    ("cron", "runs"),
    [("*/30 7-20 * * 1-5", 28), ("5 * * * *", 24), ("15 5 * * 1-5", 1), ("0 4 * * 1", 0)],
    ids=["half-hourly", "hourly", "daily", "weekly"],
)
def test_runs_per_day(cron: str, runs: int) -> None:
    assert runs_per_day(cron, "America/New_York") == runs


def test_promtool_checks_the_rules() -> None:
    proc = subprocess.run(
        [promtool(), "check", "rules", str(RULES_FILE)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_unit_tests_fire_each_sla_alert_and_keep_it_silent(pmx_home: Path, tmp_path: Path) -> None:
    docs = promtool_tests(load_slas(), committed(), "sla_rules.yml")
    fired, silent = checked(docs)
    assert fired == silent == alerts_of_group("pmx-sla-generated")
    assert {a for a in fired if a.startswith("PmxSlaMissedRepeatedly_")}, "no repeated-miss alert is tested"
    proc = run_promtool_tests(tmp_path, docs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_fails_on_a_wrong_expectation(pmx_home: Path, tmp_path: Path) -> None:
    docs = promtool_tests(load_slas(), committed(), "sla_rules.yml")
    docs[0]["tests"][0]["alert_rule_test"][1]["exp_alerts"][0]["exp_labels"]["severity"] = "info"
    assert run_promtool_tests(tmp_path, docs[:1]).returncode == 1
    repeated = next(t for t in docs[1]["tests"] if t["alert_rule_test"][1]["exp_alerts"])
    repeated["alert_rule_test"][1]["exp_alerts"] = []  # three misses in a day do fire
    assert run_promtool_tests(tmp_path, [{**docs[1], "tests": [repeated]}]).returncode == 1
