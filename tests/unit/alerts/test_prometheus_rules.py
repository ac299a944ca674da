"""Prometheus rules: ``promtool check rules``, ``promtool test rules``, and the house rules for alerts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import require

REPO = Path(__file__).resolve().parents[3]
RULES_DIR = REPO / "alerts" / "prometheus"
RULE_FILES = sorted(RULES_DIR.glob("*.yml"))  # every file Prometheus loads, generated ones included
OWN_RULE_FILES = [
    RULES_DIR / name for name in ("recording.rules.yml", "airflow.alerts.yml", "pmx.alerts.yml")
]
TEST_FILES = sorted((RULES_DIR / "tests").glob("*.test.yml"))
SEVERITIES = {"critical", "warning", "info"}


def promtool() -> str:
    """Path of promtool (Debian package ``prometheus``); skip locally, fail in CI, when missing."""
    path = shutil.which("promtool")
    require(path is not None, "promtool not installed (apt-get install prometheus)")
    assert path is not None
    return path


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=300, cwd=cwd, check=False
    )


def alerts() -> list[dict[str, Any]]:
    """Hand-written alerts (per-SLA rules generated from config/slas.yml are tested by their generator)."""
    out = []
    for path in OWN_RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            out.extend(rule for rule in group["rules"] if "alert" in rule)
    return out


ALERTS = alerts()


def test_check_rules() -> None:
    """``promtool check rules`` accepts every rule file."""
    result = run_promtool("check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", TEST_FILES, ids=[p.name for p in TEST_FILES])
def test_promtool_unit_tests(test_file: Path) -> None:
    """``promtool test rules`` passes."""
    result = run_promtool("test", "rules", test_file.name, cwd=test_file.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_wrong_expectation_makes_promtool_fail(tmp_path: Path) -> None:
    """A deliberately wrong expectation fails: the unit tests can catch a regression."""
    source = RULES_DIR / "tests" / "airflow.test.yml"
    text = source.read_text().replace("- ../", f"- {RULES_DIR}/")
    broken = text.replace(
        "summary: Pool default_pool has starving tasks", "summary: Pool default_pool is fine"
    )
    assert broken != text
    (tmp_path / "broken.test.yml").write_text(broken)
    result = run_promtool("test", "rules", "broken.test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


def test_broken_rule_is_refused(tmp_path: Path) -> None:
    """``promtool check rules`` refuses invalid PromQL (so CI catches a typo in an expression)."""
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n- name: g\n  rules:\n  - alert: X\n    expr: sum(rate(foo[5m])\n")
    assert run_promtool("check", "rules", str(bad)).returncode != 0


@pytest.mark.parametrize("rule", ALERTS, ids=[a["alert"] for a in ALERTS])
def test_alert_has_severity_summary_description_runbook(rule: dict[str, Any]) -> None:
    """Each alert: a severity label, summary, description and a runbook link to its own anchor."""
    assert rule.get("labels", {}).get("severity") in SEVERITIES
    annotations = rule.get("annotations", {})
    assert annotations.get("summary") and annotations.get("description")
    assert annotations.get("runbook_url", "").endswith(f"/alerts#{rule['alert'].lower()}")



def _tested_alerts() -> tuple[set[str], set[str]]:
    firing, quiet = set(), set()
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for check in test.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    return firing, quiet


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    """Each alert appears in at least one firing and one not-firing expectation."""
    firing, quiet = _tested_alerts()
    names = {a["alert"] for a in ALERTS}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"


def test_alert_names_are_unique() -> None:
    """One rule per alert name (Alertmanager groups and silences by name)."""
    names = [a["alert"] for a in ALERTS]
    assert len(names) == len(set(names))
