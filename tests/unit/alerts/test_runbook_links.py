"""Every Prometheus alert links an absolute runbook URL under the one runbook base of config/slas.yml, whose
anchor exists in the document the SLA view serves there (alerts/runbook_links.py)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from alerts.runbook_links import (
    ALERTS_RUNBOOK,
    RULES_DIR,
    SLA_RUNBOOK,
    alert_runbook_url,
    github_anchor,
    link_hand_written,
    main,
    rebase,
    stable_base,
)

BASE = "http://127.0.0.1:8080/pmx-sla/runbook"  # config/slas.yml's base with the local stack's UI


def all_alerts() -> list[tuple[str, str]]:
    out = []
    for file in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(file.read_text())["groups"]:
            out += [(f"{file.name}:{r['alert']}", r["annotations"]["runbook_url"]) for r in group["rules"]
                    if "alert" in r]
    return out


ALERTS = all_alerts()


def anchors(document: Path) -> set[str]:
    text = document.read_text(encoding="utf-8")
    headings = {github_anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    return headings | set(re.findall(r'<a id="([^"]+)"></a>', text))


def test_the_committed_base_is_the_configured_one(pmx_home: Path) -> None:
    assert stable_base() == BASE


@pytest.mark.parametrize(("alert", "url"), ALERTS, ids=[a for a, _ in ALERTS])
def test_every_alert_links_an_absolute_runbook_url_whose_anchor_exists(alert: str, url: str) -> None:
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.netloc, f"{alert}: {url} is not absolute"
    assert url.startswith(BASE), f"{alert}: {url} is not under the runbook base {BASE}"
    page = url[len(BASE):].split("#", 1)[0]
    document = {"": SLA_RUNBOOK, "/alerts": ALERTS_RUNBOOK}.get(page)
    assert document is not None, f"{alert}: no runbook page {page!r} under the base"
    assert parts.fragment in anchors(document), f"{alert}: no anchor #{parts.fragment} in {document.name}"


def test_the_rule_files_cover_hand_written_and_generated_alerts() -> None:
    files = {a.split(":", 1)[0] for a, _ in ALERTS}
    assert files == {"airflow.alerts.yml", "pmx.alerts.yml", "sla_rules.yml"}


def test_committed_hand_written_links_are_current(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0, capsys.readouterr().out


def test_links_are_written_per_alert_and_rebased_for_a_deployment(tmp_path: Path) -> None:
    text = ("groups:\n  - name: g\n    rules:\n      - alert: FooDown\n        annotations:\n"
            "          runbook_url: docs/runbook.md#foodown\n")
    linked = link_hand_written(text, BASE)
    assert "runbook_url: http://127.0.0.1:8080/pmx-sla/runbook/alerts#foodown\n" in linked
    assert alert_runbook_url(BASE + "/", "FooDown") == f"{BASE}/alerts#foodown"
    moved = rebase(linked, BASE, "https://airflow.example.com/pmx-sla/runbook/")
    assert "runbook_url: https://airflow.example.com/pmx-sla/runbook/alerts#foodown\n" in moved


def test_out_renders_every_rule_file_with_the_deployment_base(tmp_path: Path, pmx_home: Path) -> None:
    assert main(["--out", str(tmp_path), "--base-url", "https://airflow.example.com/pmx-sla/runbook"]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.yml")) == sorted(p.name for p in RULES_DIR.glob("*.yml"))
    rendered = [line for p in tmp_path.glob("*.yml") for line in p.read_text().splitlines()
                if line.lstrip().startswith("runbook_url:")]
    assert rendered and all("https://airflow.example.com/pmx-sla/runbook" in line for line in rendered)
    assert main(["--out", str(tmp_path), "--base-url", "pmx-sla/runbook"]) == 2


def test_the_view_serves_the_alert_runbook_with_heading_anchors() -> None:
    from alerts.ui_app import alerts_runbook

    body = bytes(alerts_runbook().body).decode()
    assert '<h3 id="airflowschedulerheartbeatmissing">AirflowSchedulerHeartbeatMissing</h3>' in body
