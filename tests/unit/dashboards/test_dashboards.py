"""Dashboards built in code: the committed JSON is what the code builds, and every query is valid PromQL."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import build
from tests.harness.promql_probe import panel_queries, substitute
from tests.support import require

COMMITTED = build.JSON_DIR
BOARDS = build.dashboards()


def test_regenerating_gives_the_committed_json(tmp_path: Path) -> None:
    """``python -m dashboards.build`` output equals the files in dashboards/json (byte for byte)."""
    written = build.write(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in COMMITTED.glob("*.json"))
    for path in written:
        assert path.read_text(encoding="utf-8") == (COMMITTED / path.name).read_text(encoding="utf-8"), (
            f"{path.name} is stale: run python -m dashboards.build"
        )


def test_check_flag_detects_a_stale_file(tmp_path: Path) -> None:
    """``--check`` fails when a committed file differs from a fresh build."""
    build.write(tmp_path)
    assert build.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "trading.json").write_text("{}\n")
    assert build.main(["--check", "--out", str(tmp_path)]) == 1


def _panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_shape(name: str) -> None:
    """Unique uid and panel ids, a Prometheus data source on every panel and target, a description."""
    board = BOARDS[name]
    assert board["uid"].startswith("pmx-")
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in _panels(board):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"] and target["refId"]


def test_uids_are_unique() -> None:
    """Grafana provisioning needs one uid per dashboard."""
    uids = [b["uid"] for b in BOARDS.values()]
    assert len(uids) == len(set(uids))


def test_dag_and_task_variables() -> None:
    """The DAG health dashboard filters by dag_id and task_id; its task list follows the chosen DAG."""
    variables = {v["name"]: v for v in BOARDS["dag-health"]["templating"]["list"]}
    assert {"datasource", "dag_id", "task_id"} <= set(variables)
    assert "$dag_id" in variables["task_id"]["query"]
    queries = [t["expr"] for p in _panels(BOARDS["dag-health"]) for t in p["targets"]]
    assert sum('dag_id=~"$dag_id"' in q for q in queries) >= 10


def test_sla_names_feed_the_sla_picker() -> None:
    """Given SLA names (from config/slas.yml), the SLA variable lists exactly those."""
    board = build.dashboards(sla_names=["trading_cycle", "etl_by_0700"])["sla-alerting"]
    variable = {v["name"]: v for v in board["templating"]["list"]}["sla"]
    assert variable["type"] == "custom"
    assert variable["query"] == "etl_by_0700,trading_cycle"
    default = {v["name"]: v for v in BOARDS["sla-alerting"]["templating"]["list"]}["sla"]
    from alerts.sla_config import sla_names

    assert default["type"] == "custom", "the committed board takes its SLA list from config/slas.yml"
    assert default["query"] == ",".join(sorted(sla_names()))
    dynamic = {v["name"]: v for v in build.dashboards(sla_names=[])["sla-alerting"]["templating"]["list"]}["sla"]
    assert dynamic["type"] == "query", "without SLA names the picker lists the SLAs seen in the metrics"


def test_every_target_is_valid_promql(tmp_path: Path) -> None:
    """All panel expressions (variables substituted) parse: promtool checks them as recording rules."""
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool not installed (apt-get install prometheus)")
    rules = [
        {"record": f"probe:query_{i}", "expr": substitute(q.expr)} for i, q in enumerate(panel_queries())
    ]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
    result = subprocess.run(
        [str(promtool), "check", "rules", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_json_is_valid_json() -> None:
    """Each committed file parses and carries the schema version the SDK writes."""
    for path in COMMITTED.glob("*.json"):
        board = json.loads(path.read_text(encoding="utf-8"))
        assert board["schemaVersion"] >= 39


def test_slo_dashboard_shows_objective_sli_budget_and_every_burn_window() -> None:
    """One picker value per SLO of config/slas.yml; the panels read the generated SLO rules, one panel per
    burn-rate window pair of the alerts."""
    from alerts.sla_config import load_slas
    from alerts.slo_rules import PAGE, TICKET

    board = BOARDS["slo"]
    variable = {v["name"]: v for v in board["templating"]["list"]}["sla"]
    assert variable["query"] == ",".join(sorted(s.name for s in load_slas() if s.objective is not None))
    titles = [p["title"] for p in _panels(board)]
    assert {"Objective", "SLI: runs on time over the SLO window", "Error budget remaining"} <= set(titles)
    for pair in (*PAGE.pairs, *TICKET.pairs):
        panel = next(p for p in _panels(board) if f"over {pair.long} and {pair.short}" in p["title"])
        exprs = [t["expr"] for t in panel["targets"]]
        assert [f"rate{pair.long}{{" in exprs[0], f"rate{pair.short}{{" in exprs[1]] == [True, True]


def test_slo_dashboard_queries_only_recorded_slo_series() -> None:
    """Every ``pmx:`` series an SLO panel reads is recorded by a rule file Prometheus loads."""
    from tests.harness.promql_probe import recording_rules

    recorded = {q.title.split(" #")[0] for q in recording_rules()}
    used = {
        name
        for p in _panels(BOARDS["slo"])
        for t in p["targets"]
        for name in re.findall(r"pmx:[a-z0-9_:]+", t["expr"])
    }
    assert used and used <= recorded, sorted(used - recorded)


def test_the_prometheus_probe_collects_the_slo_dashboard() -> None:
    """The integration test proves every dashboard's queries: the SLO board is among them."""
    sources = {q.source for q in panel_queries()}
    assert {"slo", "sla-alerting"} <= sources
    assert len([q for q in panel_queries() if q.source == "slo"]) == sum(
        len(p["targets"]) for p in _panels(BOARDS["slo"])
    )
