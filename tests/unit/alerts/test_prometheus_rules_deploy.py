"""deploy/: the production Prometheus, Alertmanager, Grafana and statsd_exporter definitions use the same
mapping, rule and dashboard files as the embedded setup, and their configs validate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import IN_CI, require

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.observability.yml").read_text())


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120, check=False)


def test_prometheus_config_and_rules_validate(tmp_path: Path) -> None:
    """``promtool check config`` on deploy/prometheus/prometheus.yml, rules where compose mounts them."""
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool not installed (apt-get install prometheus)")
    shutil.copy(DEPLOY / "prometheus" / "prometheus.yml", tmp_path / "prometheus.yml")
    (tmp_path / "rules").symlink_to(REPO / "alerts" / "prometheus")
    result = _run(str(promtool), "check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = result.stdout + result.stderr
    for rules in (REPO / "alerts" / "prometheus").glob("*.yml"):
        assert rules.name in loaded


def test_alertmanager_config_and_templates_validate(tmp_path: Path) -> None:
    """``amtool check-config`` with the template resolved (if Debian's prometheus-alertmanager is there);
    always a structural check: every route's receiver exists and the template defines what it uses."""
    config_text = (DEPLOY / "alertmanager" / "alertmanager.yml").read_text()
    local = config_text.replace("/etc/alertmanager/templates/", f"{DEPLOY / 'alertmanager' / 'templates'}/")
    (tmp_path / "alertmanager.yml").write_text(local)
    amtool = shutil.which("amtool")
    assert amtool is not None or not IN_CI, "amtool (Debian prometheus-alertmanager) is required in CI"
    if amtool is not None:
        result = _run(amtool, "check-config", str(tmp_path / "alertmanager.yml"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 templates" in result.stdout
    config = yaml.safe_load(local)
    receivers = {r["name"] for r in config["receivers"]}
    routes = [config["route"], *config["route"].get("routes", [])]
    assert {r["receiver"] for r in routes if "receiver" in r} <= receivers
    assert list((DEPLOY / "alertmanager" / "templates").glob("*.tmpl"))
    template = (DEPLOY / "alertmanager" / "templates" / "pmx.tmpl").read_text()
    for name in ("pmx.title", "pmx.text"):
        assert f'define "{name}"' in template
    assert "Runbook: {{ .Annotations.runbook_url }}" in template  # absolute in every rule: linked as is


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        pytest.param(["routed_by=pmx-outbox", "severity=critical", "alertname=PmxSlaMissed_daily_etl_ready"],
                     "blackhole", id="sla-rules-never-page-twice"),
        pytest.param(["severity=critical", "alertname=AirflowSchedulerHeartbeatMissing"], "pagerduty,slack",
                     id="critical-pages-and-posts"),
        pytest.param(["severity=warning", "alertname=PmxTaskFailureRateHigh"], "slack", id="warning-posts"),
        pytest.param(["severity=info", "alertname=X"], "blackhole", id="info-stays-on-dashboards"),
    ],
)
def test_alertmanager_routes(labels: list[str], receivers: str) -> None:
    """Routing decisions, checked by Alertmanager's own route tester."""
    amtool = shutil.which("amtool")
    require(amtool is not None, "amtool not installed (apt-get install prometheus-alertmanager)")
    result = _run(str(amtool), "config", "routes", "test",
                  f"--config.file={DEPLOY / 'alertmanager' / 'alertmanager.yml'}", *labels)
    assert result.stdout.strip() == receivers, result.stdout + result.stderr


def _service(name: str) -> dict[str, Any]:
    return COMPOSE["services"][name]


def test_compose_uses_the_single_mapping_rules_and_dashboards() -> None:
    """statsd_exporter reads monitoring/statsd_mapping.yml, Prometheus alerts/prometheus, Grafana the JSON."""
    exporter = _service("statsd-exporter")
    assert (
        "../monitoring/statsd_mapping.yml:/etc/statsd-exporter/statsd_mapping.yml:ro" in exporter["volumes"]
    )
    assert "--statsd.mapping-config=/etc/statsd-exporter/statsd_mapping.yml" in exporter["command"]
    assert "../alerts/prometheus:/etc/prometheus/rules:ro" in _service("prometheus")["volumes"]
    assert "../dashboards/json:/var/lib/grafana/dashboards/pmx:ro" in _service("grafana")["volumes"]
    for service in COMPOSE["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source


def test_compose_publishes_ports_on_loopback_only() -> None:
    """Every published port is bound to 127.0.0.1."""
    for name, service in COMPOSE["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_prometheus_scrapes_the_bridge_as_job_statsd() -> None:
    """The job name the alert rules and dashboards rely on."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["statsd"]["static_configs"][0]["targets"] == ["statsd-exporter:9102"]
