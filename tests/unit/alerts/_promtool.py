"""Run generated promtool unit tests against the committed (or a modified) sla_rules.yml."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from alerts.sla_rules import RULES_FILE
from tests.support import require


def promtool() -> str:
    """The promtool binary (Debian package prometheus)."""
    path = shutil.which("promtool")
    require(path is not None, "promtool (Debian package prometheus) is not installed")
    assert path is not None
    return path


def committed() -> dict[str, Any]:
    """The committed rules document."""
    return dict(yaml.safe_load(RULES_FILE.read_text()))


def alerts_of_group(group: str) -> set[str]:
    """Alert names of one group of the committed rules."""
    return {r["alert"] for g in committed()["groups"] if g["name"] == group for r in g["rules"] if "alert" in r}


def checked(docs: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """(alerts some test expects firing, alerts some test expects silent)."""
    checks = [c for doc in docs for test in doc["tests"] for c in test["alert_rule_test"]]
    return {c["alertname"] for c in checks if c["exp_alerts"]}, {c["alertname"] for c in checks if not c["exp_alerts"]}


def run_promtool_tests(
    tmp_path: Path, docs: list[dict[str, Any]], rules: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``promtool test rules`` on ``docs`` (one test file each) against the committed rules (or ``rules``)."""
    (tmp_path / "sla_rules.yml").write_text(RULES_FILE.read_text() if rules is None else rules)
    names = []
    for i, doc in enumerate(docs):
        names.append(f"sla_rules_{i}.test.yml")
        (tmp_path / names[-1]).write_text(yaml.safe_dump(doc, sort_keys=False))
    return subprocess.run(
        [promtool(), "test", "rules", *names], cwd=tmp_path, capture_output=True, text=True, check=False
    )
