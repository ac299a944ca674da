"""alerts/prometheus/sla_rules.yml: generated from config/slas.yml, committed current, proven by promtool."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from alerts import alerting_config, sla_config
from alerts.promql import duration
from alerts.sla_config import load_slas
from alerts.sla_rules import RULES_FILE, promtool_tests, render, runs_per_day
from alerts.slo_rules import PAGE, TICKET, WINDOWS, burn_alert, pairs, slo_group
from alerts.slo_rules import promtool_tests as slo_promtool_tests
from tests.support import require


@pytest.fixture(autouse=True)
def _fresh() -> None:
    sla_config.clear_cache()
    alerting_config.clear_cache()


def _promtool() -> str:
    path = shutil.which("promtool")
    require(path is not None, "promtool (Debian package prometheus) is not installed")
    assert path is not None
    return path


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
        [_promtool(), "check", "rules", str(RULES_FILE)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _run_promtool_tests(tmp_path: Path, doc: dict) -> subprocess.CompletedProcess[str]:  # type: ignore[type-arg]
    shutil.copy(RULES_FILE, tmp_path / "sla_rules.yml")
    (tmp_path / "sla_rules.test.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return subprocess.run(
        [_promtool(), "test", "rules", "sla_rules.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


def _with_annotations(doc: dict, slas: list) -> dict:  # type: ignore[type-arg]
    rules = {r["alert"]: r for r in yaml.safe_load(RULES_FILE.read_text())["groups"][0]["rules"]}
    for test, spec in zip(doc["tests"], slas, strict=True):
        annotations = dict(rules[f"PmxSlaMissed_{spec.name}"]["annotations"])
        annotations["description"] = annotations["description"].replace("{{ $value }}", "1")
        test["alert_rule_test"][1]["exp_alerts"][0]["exp_annotations"] = annotations
    return doc


def test_promtool_unit_tests_fire_each_sla_alert(pmx_home: Path, tmp_path: Path) -> None:
    slas = load_slas()
    proc = _run_promtool_tests(tmp_path, _with_annotations(promtool_tests(slas, "sla_rules.yml"), slas))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_fails_on_a_wrong_expectation(pmx_home: Path, tmp_path: Path) -> None:
    slas = load_slas()
    doc = _with_annotations(promtool_tests(slas, "sla_rules.yml"), slas)
    doc["tests"][0]["alert_rule_test"][1]["exp_alerts"][0]["exp_labels"]["severity"] = "info"
    assert _run_promtool_tests(tmp_path, doc).returncode == 1


def _slo_rules() -> dict[str, dict]:  # type: ignore[type-arg]
    groups = {g["name"]: g for g in yaml.safe_load(RULES_FILE.read_text())["groups"]}
    return {r.get("alert") or f"{r['record']} {r.get('labels', {}).get('sla', '')}": r
            for r in groups["pmx-slo-generated"]["rules"]}


def test_slos_get_sli_windows_a_budget_and_burn_alerts_scaled_to_their_cadence(pmx_home: Path) -> None:
    rules = _slo_rules()
    ratios = sorted(name.split()[0] for name in rules if name.startswith("pmx:sla_error_ratio:"))
    assert ratios == sorted(f"pmx:sla_error_ratio:rate{w}" for w in (*WINDOWS, "28d"))
    slos = [s for s in load_slas() if s.objective is not None]
    assert {s.name for s in slos} >= {"daily_etl_ready", "auto_trader_cycle"}
    for spec in slos:
        assert f"pmx:sla_error_budget_remaining:ratio {spec.name}" in rules
    alerts = sorted(name for name in rules if name.startswith("PmxSloBurn"))
    assert alerts == sorted(
        [f"PmxSloBurnTicket_{s.name}" for s in slos]
        + [f"PmxSloBurnPage_{s.name}" for s in slos if s.dag_id in ("auto_trader", "auto_trader_core", "monitoring")]
    )
    page = rules["PmxSloBurnPage_auto_trader_cycle"]["expr"]
    assert "rate1h" in page and "rate5m" in page and "> 14.4" in page and "rate6h" in page and "> 6" in page


def test_a_loose_objective_drops_the_window_pairs_that_cannot_fire(pmx_home: Path) -> None:
    spec = next(s for s in load_slas() if s.name == "auto_trader_cycle").model_copy(update={"objective": 0.9})
    assert [p.factor for p in pairs(spec, PAGE)] == [6]  # 14.4 x 10% would need more misses than runs
    loose = spec.model_copy(update={"objective": 0.5})
    assert burn_alert(loose, PAGE, "http://x") is None and [p.factor for p in pairs(loose, TICKET)] == [1]


def test_slo_window_and_durations(pmx_home: Path) -> None:
    spec = next(s for s in load_slas() if s.name == "daily_etl_ready")
    assert duration(spec.error_window) == "28d"
    assert [duration(timedelta(seconds=n)) for n in (300, 7200, 5400, 45)] == ["5m", "2h", "90m", "45s"]
    weekly = spec.model_copy(update={"slo_window": timedelta(days=7)})
    names = [r["record"] for r in slo_group([weekly], {weekly.name: False}, "")[0]["rules"] if "record" in r]
    assert "pmx:sla_error_ratio:rate7d" in names and "pmx:sla_error_ratio:rate28d" not in names


def _slo_tests() -> dict:  # type: ignore[type-arg]
    return slo_promtool_tests(load_slas(), yaml.safe_load(RULES_FILE.read_text()), "sla_rules.yml")


def test_promtool_fires_every_burn_rate_alert_and_keeps_each_silent_when_healthy(
    pmx_home: Path, tmp_path: Path
) -> None:
    doc = _slo_tests()
    fired = {t["alertname"] for test in doc["tests"] for t in test["alert_rule_test"] if t["exp_alerts"]}
    silent = {t["alertname"] for test in doc["tests"] for t in test["alert_rule_test"] if not t["exp_alerts"]}
    assert fired == silent == {name for name in _slo_rules() if name.startswith("PmxSloBurn")}
    slow = [test for test in doc["tests"] if "ticket, no page" in test["name"]]
    assert len(slow) == len([s for s in load_slas() if s.objective is not None])
    for test in slow:  # a slow burn opens a ticket and does not page
        expected = {t["alertname"]: bool(t["exp_alerts"]) for t in test["alert_rule_test"]}
        assert {name.split("_")[0] for name, fires in expected.items() if fires} == {"PmxSloBurnTicket"}
        assert not any(fires for name, fires in expected.items() if name.startswith("PmxSloBurnPage"))
    proc = _run_promtool_tests(tmp_path, doc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_fails_when_a_burn_rate_alert_is_expected_silent_but_fires(pmx_home: Path, tmp_path: Path) -> None:
    doc = _slo_tests()
    doc["tests"][0]["alert_rule_test"][0]["exp_alerts"] = []
    assert _run_promtool_tests(tmp_path, doc).returncode == 1
