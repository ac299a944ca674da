"""The project's mapping file covers every Airflow 3.3 metric and every ``pmx.*`` name as documented."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from monitoring.statsd_bridge.bridge import Bridge
from monitoring.statsd_bridge.mapper import MetricMapper
from monitoring.statsd_bridge.selfmetrics import RESERVED_NAMES
from tests.support import require
from tests.unit.monitoring._support import AIRFLOW_NAMES, MAPPING_FILE, REPO

MAPPER = MetricMapper.from_file(MAPPING_FILE)
STATSD_TYPES = {
    "c": "counter",
    "g": "gauge",
    "ms": "observer",
    "counter": "counter",
    "gauge": "gauge",
    "timer": "observer",
}
REFERENCE = AIRFLOW_NAMES
DOCS = REPO / "docs" / "metrics.md"


def _reference_names() -> list[tuple[str, str]]:
    if not REFERENCE.is_file():
        return []
    return [tuple(line.split()) for line in REFERENCE.read_text().splitlines() if line.strip()]  # type: ignore[misc]


def _doc_table(heading: str) -> list[list[str]]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("| `"):
            rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    return rows


PMX_CONTRACT = [row for row in _doc_table("## The project's StatsD names") if row[0].startswith("pmx.")]
PMX_PROMETHEUS = _doc_table("### Project metrics (`pmx.*`)")


def test_reference_names_present() -> None:
    """The names seen in a real Airflow 3.3.2 run are available."""
    require(REFERENCE.is_file(), f"{REFERENCE} not found")


@pytest.mark.parametrize(("name", "kind"), _reference_names(), ids=[n for n, _ in _reference_names()])
def test_every_name_seen_from_airflow_is_mapped_or_dropped(name: str, kind: str) -> None:
    """Tagged names map to a named metric; legacy dotted duplicates are dropped on purpose."""
    result = MAPPER.get_mapping(name, STATSD_TYPES[kind])
    assert result is not None, f"{name} would be exported unmapped"
    if result.mapping.action == "map":
        assert result.name.startswith("airflow_") and "$" not in result.name
        return
    twin = re.sub(r"^airflow\.dag\.[^.]+\.[^.]+\.", "airflow.task.", name)
    mapped = [
        other
        for other, other_kind in _reference_names()
        if other_kind == kind and MAPPER.get_mapping(other, STATSD_TYPES[kind]).mapping.action == "map"
    ]  # type: ignore[union-attr]
    assert any(twin == other or twin.startswith((other + ".", other + "_")) for other in mapped), (
        f"{name} is dropped but no tagged twin was seen"
    )


def _airflow_template() -> list[dict[str, object]]:
    spec = importlib.util.find_spec("airflow")
    if spec is None or not spec.submodule_search_locations:
        return []
    path = (
        Path(next(iter(spec.submodule_search_locations)))
        / "_shared/observability/metrics/metrics_template.yaml"
    )
    return yaml.safe_load(path.read_text())["metrics"] if path.is_file() else []


SAMPLE_VALUES = {
    "job_name": "job",
    "dag_file": "my_dags",
    "job_id": "7",
    "dag_id": "etl_daily",
    "task_id": "load",
    "return_code": "0",
    "operator_name": "PythonOperator",
    "state": "success",
    "queue": "default",
    "executor_class_name": "LocalExecutor",
    "pool_name": "default_pool",
    "hostname": "host1",
    "file_name": "etl_daily",
    "bundle_name": "dags-folder",
    "event_type": "complete",
    "transport_type": "file",
    "worker_name": "w1",
    "task_type": "PythonOperator",
    "status": "200",
}
TEMPLATE = _airflow_template()


def test_airflow_metrics_template_present() -> None:
    """Airflow's own metric registry (metrics_template.yaml) ships with the installed Airflow."""
    require(bool(TEMPLATE), "apache-airflow is not installed")


@pytest.mark.parametrize("metric", TEMPLATE, ids=[str(m["name"]) for m in TEMPLATE])
def test_every_documented_airflow_metric_is_covered(metric: dict[str, str]) -> None:
    """Each metric of Airflow 3.3's registry maps by its current name; its legacy name, if any, is dropped."""
    kind = STATSD_TYPES[metric["type"]]
    current = "airflow." + metric["name"].format(**SAMPLE_VALUES)
    result = MAPPER.get_mapping(current, kind)
    assert result is not None and result.mapping.action == "map", f"{current} ({kind}) is not mapped"
    legacy = metric.get("legacy_name", "-")
    if legacy != "-":
        legacy_result = MAPPER.get_mapping("airflow." + legacy.format(**SAMPLE_VALUES), kind)
        assert legacy_result is not None and legacy_result.mapping.action == "drop", legacy


def test_every_pmx_contract_name_is_documented_on_the_prometheus_side() -> None:
    """Every StatsD name of the contract table has a row in the Prometheus table, and nothing else does."""
    assert PMX_CONTRACT, "contract table not found in docs/metrics.md"
    assert [row[0] for row in PMX_CONTRACT] == [row[0] for row in PMX_PROMETHEUS]


@pytest.mark.parametrize("row", PMX_PROMETHEUS, ids=[row[0] for row in PMX_PROMETHEUS])
def test_pmx_name_maps_to_documented_prometheus_name(row: list[str]) -> None:
    """Sending the documented StatsD line produces the documented Prometheus family, type and labels."""
    statsd_name, prom_name, prom_type, labels = row
    contract = {r[0]: r for r in PMX_CONTRACT}[statsd_name]
    statsd_type = contract[1].split()[0]
    wire = {"counter": "c", "gauge": "g", "timer": "ms"}[statsd_type]
    tag_names = [] if labels == "(none)" else [t.strip() for t in labels.split(",")]
    tags = "".join(f",{t}=x" for t in tag_names)
    bridge = Bridge(MAPPER, reserved_names=RESERVED_NAMES)
    bridge.handle_packet(f"{statsd_name}{tags}:5|{wire}".encode())
    families = {m.name: m for m in bridge.registry.collect()}
    base = prom_name[:-6] if prom_type == "counter" else prom_name
    assert base in families, f"{statsd_name} did not produce {prom_name}: {sorted(families)}"
    family = families[base]
    assert family.type == prom_type
    sample = family.samples[0]
    assert sample.name == (prom_name + "_bucket" if prom_type == "histogram" else prom_name)
    assert set(sample.labels) - {"le"} == set(tag_names)


def test_mapping_rules_are_all_reachable() -> None:
    """No rule is shadowed entirely by an earlier one (a dead rule is a typo waiting to happen)."""
    reachable = set()
    for mapping in MAPPER.config.mappings:
        if mapping.match_type != "glob":
            continue
        probe = mapping.match.replace("*", "probe")
        for kind in [mapping.match_metric_type] if mapping.match_metric_type else ["counter"]:
            result = MAPPER.get_mapping(probe, kind, use_cache=False)
            if result is not None and result.mapping.index == mapping.index:
                reachable.add(mapping.index)
    globs = {m.index for m in MAPPER.config.mappings if m.match_type == "glob"}
    assert globs - reachable == set()
