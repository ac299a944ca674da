"""SLO rules of sla_rules.yml (alerts/slo_rules.py) and their generated promtool tests (alerts/slo_promtool.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from alerts import alerting_config, sla_config
from alerts.promql import duration
from alerts.sla_config import SlaSpec, load_sla_config, load_slas
from alerts.sla_rules import RULES_FILE, rules
from alerts.slo_promtool import promtool_tests
from alerts.slo_rules import (
    GROUP,
    MISSES,
    OBJECTIVE,
    PAGE,
    RUNS,
    TICKET,
    WINDOWS,
    alerts_of,
    burn_alert,
    pairs,
    slo_group,
)
from foundation.statsd_sender import tag_text
from monitoring.statsd_bridge.bridge import Bridge
from monitoring.statsd_bridge.mapper import MetricMapper
from monitoring.statsd_bridge.selfmetrics import RESERVED_NAMES
from tests.unit.alerts._promtool import alerts_of_group, checked, committed, run_promtool_tests
from tests.unit.monitoring._support import MAPPING_FILE


@pytest.fixture(autouse=True)
def _fresh() -> None:
    sla_config.clear_cache()
    alerting_config.clear_cache()


def _slos() -> list[SlaSpec]:
    return [s for s in load_slas() if s.objective is not None]


def _rules() -> dict[str, dict]:
    group = next(g for g in committed()["groups"] if g["name"] == GROUP)
    return {r.get("alert") or f"{r['record']} {r.get('labels', {}).get('sla', '')}".strip(): r for r in group["rules"]}


def _tests() -> list[dict]:
    cfg = load_sla_config()
    return promtool_tests(list(cfg.slas), committed(), "sla_rules.yml", cfg.timezone or "UTC")


def test_each_slo_gets_its_objective_series_and_the_sli_windows(pmx_home: Path) -> None:
    rules = _rules()
    slos = _slos()
    assert {s.name for s in slos} >= {"daily_etl_ready", "auto_trader_cycle"}
    for spec in slos:
        rule = rules[f"{OBJECTIVE} {spec.name}"]
        assert rule["expr"] == f"vector({spec.objective:g})"
        assert rule["labels"] == {"sla": spec.name, "dag_id": spec.dag_id, "slo_window": duration(spec.error_window)}
    for window in (*WINDOWS, "28d"):
        for name in (f"pmx:slo_runs:increase{window}", f"pmx:slo_misses:increase{window}",
                     f"pmx:sla_error_ratio:rate{window}"):
            assert name in rules
    assert {"pmx:sla_on_time:ratio", "pmx:sla_error_budget_remaining:ratio"} <= set(rules)


def test_the_sli_names_no_sla_or_dag_but_joins_the_objective_series(pmx_home: Path) -> None:
    """Config names appear only in the objective series: the SLI rules join on them, so a healthy SLO (runs, no
    miss) has an SLI of 0 and misses of SLAs without an objective stay out."""
    for name, rule in _rules().items():
        if name.startswith(("pmx:slo_runs", "pmx:slo_misses", "pmx:sla_error_ratio")):
            assert not re.search(r'(sla|dag_id)=~?"', rule["expr"]), name
    runs, misses = _rules()["pmx:slo_runs:increase1h"]["expr"], _rules()["pmx:slo_misses:increase1h"]["expr"]
    assert f"group_right () ({OBJECTIVE} * 0 + 1)" in runs and 'run_type!="backfill"' in runs
    assert f"and on (dag_id, sla) {OBJECTIVE}" in misses
    assert "or on (dag_id, sla) 0 * pmx:slo_runs:increase1h" in misses
    for rule in _rules().values():
        assert "vector(0)" not in rule["expr"], "a zero fallback would hide a missing metric"


def test_the_sli_metrics_are_what_airflow_and_the_router_send_through_the_bridge(pmx_home: Path) -> None:
    """Airflow's DagRun timer (InfluxDB tags, as its statsd logger writes them) and the router's miss counter
    (the project's StatsD client), mapped by the real mapping file, give the series and labels the rules use."""
    from airflow._shared.observability.metrics.statsd_logger import SafeStatsdLogger

    sent: list[str] = []

    class Capture:
        def timing(self, stat: str, dt: float) -> None:
            sent.append(f"airflow.{stat}:{dt * 1000:.3f}|ms")

    spec = _slos()[0]
    logger = SafeStatsdLogger(Capture(), influxdb_tags_enabled=True, statsd_influxdb_enabled=True)
    logger.timing("dagrun.duration.success", 1.5, tags={"dag_id": spec.dag_id, "run_type": "scheduled"})
    tags = {"dag_id": spec.dag_id, "sla": spec.name, "severity": spec.severity}
    sent.append(f"pmx.sla.miss{tag_text(tags)}:1|c")
    bridge = Bridge(MetricMapper.from_file(MAPPING_FILE), reserved_names=RESERVED_NAMES)
    for line in sent:
        bridge.handle_packet(line.encode())
    samples = {s.name: s.labels for f in bridge.registry.collect() for s in f.samples}
    runs_name = RUNS.split("{")[0]
    assert samples[runs_name] == {"dag_id": spec.dag_id, "run_type": "scheduled", "state": "success"}
    assert samples[MISSES] == tags


def test_busy_slos_page_and_ticket_rare_ones_ticket_only(pmx_home: Path) -> None:
    alerts = sorted(name for name in _rules() if name.startswith("PmxSloBurn"))
    slos = _slos()
    assert alerts == sorted(
        [f"PmxSloBurnTicket_{s.name}" for s in slos]
        + [f"PmxSloBurnPage_{s.name}" for s in slos if s.dag_id in ("auto_trader", "auto_trader_core", "monitoring")]
    )
    page = _rules()["PmxSloBurnPage_auto_trader_cycle"]["expr"]
    assert "rate1h" in page and "rate5m" in page and "> 14.4" in page and "rate6h" in page and "> 6" in page
    assert "routed_by" not in _rules()["PmxSloBurnPage_auto_trader_cycle"]["labels"]


def test_a_loose_objective_drops_the_window_pairs_that_cannot_fire(pmx_home: Path) -> None:
    spec = next(s for s in load_slas() if s.name == "auto_trader_cycle").model_copy(update={"objective": 0.9})
    assert [p.factor for p in pairs(spec, PAGE)] == [6]  # 14.4 x 10% would need more misses than runs
    loose = spec.model_copy(update={"objective": 0.5})
    assert burn_alert(loose, PAGE, "http://x") is None and [p.factor for p in pairs(loose, TICKET)] == [1]
    assert alerts_of(loose, busy=True) == (TICKET,)


def test_a_custom_slo_window_gets_its_own_budget_rules(pmx_home: Path) -> None:
    spec = next(s for s in load_slas() if s.name == "daily_etl_ready")
    assert duration(spec.error_window) == "28d"
    assert [duration(timedelta(seconds=n)) for n in (300, 7200, 5400, 45)] == ["5m", "2h", "90m", "45s"]
    weekly = spec.model_copy(update={"slo_window": timedelta(days=7), "objective": 0.8})
    out = slo_group([weekly], {weekly.name: False}, "")[0]["rules"]
    names = [r["record"] for r in out if "record" in r]
    assert "pmx:sla_error_ratio:rate7d" in names and "pmx:sla_error_ratio:rate28d" not in names
    budget = next(r for r in out if r.get("record") == "pmx:sla_error_budget_remaining:ratio")["expr"]
    assert "rate7d" in budget and 'slo_window="7d"' in budget
    assert slo_group([s.model_copy(update={"objective": None}) for s in load_slas()], {}, "") == []


def test_rules_without_objectives_have_no_slo_group(pmx_home: Path) -> None:
    plain = [s.model_copy(update={"objective": None, "slo_window": None}) for s in load_slas()]
    assert [g["name"] for g in rules(plain, "http://x", "UTC")["groups"]] == ["pmx-sla-generated"]


def test_generated_tests_cover_every_burn_alert_a_burst_and_a_healthy_week(pmx_home: Path) -> None:
    docs = _tests()
    fired, silent = checked(docs)
    assert fired == silent == alerts_of_group(GROUP)
    names = [t["name"] for doc in docs for t in doc["tests"]]
    paging = [s for s in _slos() if f"PmxSloBurnPage_{s.name}" in fired]
    assert len([n for n in names if "a burst of" in n]) == len(paging) > 0
    assert len([n for n in names if "ticket, no page" in n]) == len(_slos())
    week = next(t for doc in docs for t in doc["tests"] if "healthy week" in t["name"])
    assert {c["alertname"] for c in week["alert_rule_test"]} == alerts_of_group(GROUP)
    assert not any(c["exp_alerts"] for c in week["alert_rule_test"])
    assert max(int(c["eval_time"][:-1]) for c in week["alert_rule_test"]) == 7 * 24 * 60
    auto = next(s for s in week["input_series"] if 'dag_id="auto_trader"' in s["series"])
    assert auto["values"].split()[-1].startswith(f"{28 * 5}x")  # its cron: 28 runs on each of 5 weekdays
    assert not any(MISSES in s["series"] for s in week["input_series"])
    for test in (t for doc in docs for t in doc["tests"] if "ticket, no page" in t["name"]):
        expected = {t["alertname"]: bool(t["exp_alerts"]) for t in test["alert_rule_test"]}
        assert {name.split("_")[0] for name, fires in expected.items() if fires} == {"PmxSloBurnTicket"}


def test_promtool_runs_the_generated_slo_tests(pmx_home: Path, tmp_path: Path) -> None:
    proc = run_promtool_tests(tmp_path, _tests())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_fails_when_a_burn_rate_alert_is_expected_silent_but_fires(pmx_home: Path, tmp_path: Path) -> None:
    first = _tests()[0]
    test = first["tests"][0]
    assert "every run misses" in test["name"] and test["alert_rule_test"][0]["exp_alerts"]
    test["alert_rule_test"][0]["exp_alerts"] = []
    assert run_promtool_tests(tmp_path, [{**first, "tests": [test]}]).returncode == 1


def test_promtool_fails_on_an_sli_without_the_healthy_zero(pmx_home: Path, tmp_path: Path) -> None:
    """The first cut's bug: an SLI built from the miss counter alone has no data while nothing is missed. The
    generated tests catch it (the healthy week and the no-miss case expect an SLI of 0)."""
    text = RULES_FILE.read_text()
    broken = re.sub(r"\n\s*or on \(dag_id, sla\) 0 \* pmx:slo_runs:increase\w+", "", text)
    assert broken != text
    yaml.safe_load(broken)
    docs = _tests()
    healthy = [{**doc, "tests": [t for t in doc["tests"] if "no run misses" in t["name"] or "healthy" in t["name"]]}
               for doc in docs]
    proc = run_promtool_tests(tmp_path, healthy, rules=broken)
    assert proc.returncode == 1 and "exp:" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert run_promtool_tests(tmp_path, healthy).returncode == 0
