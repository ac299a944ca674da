"""statsd_exporter v0.30.0's own test tables (line parsing, escaping, mapping) run against the bridge.

One test id per upstream case. The tables are kept in ``tests/unit/monitoring/fixtures/statsd_exporter``
(``$PMX_CONFORMANCE_DIR`` overrides); ``test_fixtures_match_shared_copy`` guards against drift.
"""

from __future__ import annotations

from typing import Any

import pytest

from monitoring.statsd_bridge.config_model import MappingConfigError
from monitoring.statsd_bridge.escape import escape_metric_name
from monitoring.statsd_bridge.line import LineParser, ParseStats
from monitoring.statsd_bridge.mapper import MetricMapper
from tests.support import require
from tests.unit.monitoring._support import load_table

LINE_CASES = load_table("statsd_line_cases.json") or []
LINE_META = load_table("statsd_line_cases.meta.json") or {"skipped": [], "counts": {}}
ESCAPE_CASES = load_table("statsd_escape_cases.json") or []
MAPPING_TABLE = load_table("statsd_mapping_cases.json") or {"cases": []}


def _tables_present() -> None:
    require(
        bool(LINE_CASES and ESCAPE_CASES and MAPPING_TABLE["cases"]),
        "statsd_exporter conformance tables not found (set PMX_CONFORMANCE_DIR)",
    )


def test_tables_are_present() -> None:
    """The tables are there (an empty parametrization would otherwise pass silently)."""
    _tables_present()
    assert len(LINE_CASES) == 295
    assert len(ESCAPE_CASES) == 10
    assert len(MAPPING_TABLE["cases"]) == 67


def _events(case: dict[str, Any]) -> list[dict[str, Any]]:
    flags = case["parsers"]
    parser = LineParser(flags["dogstatsd"], flags["influxdb"], flags["librato"], flags["signalfx"])
    raw = (
        case["input_line"].encode("utf-8")
        if case["input_line"] is not None
        else bytes.fromhex(case["input_bytes_hex"])
    )
    chunks = raw.split(b"\n") if case["scope"] == "packet" else [raw]
    stats, out = ParseStats(), []
    for chunk in chunks:
        try:
            line = chunk.decode("utf-8")
        except UnicodeDecodeError:
            continue  # upstream: a line that is not valid UTF-8 is a malformed line, no event
        for event in parser.parse_line(line, stats):
            for _ in range(event.count):
                item = {
                    "type": event.kind,
                    "name": event.name,
                    "value": event.value,
                    "labels": dict(event.labels),
                }
                if event.kind == "gauge":
                    item["relative"] = event.relative
                out.append(item)
    return out


@pytest.mark.parametrize("case", LINE_CASES, ids=[c["name"] for c in LINE_CASES])
def test_line_case(case: dict[str, Any]) -> None:
    """Exactly the expected events (values compared exactly, as upstream does)."""
    assert _events(case) == case["expected"]


def test_upstream_cases_left_out_are_documented() -> None:
    """The 29 upstream line cases that assert nothing are left out of the table, each with a reason."""
    left_out = LINE_META["skipped"]
    assert len(left_out) == LINE_META["counts"]["skipped"] == 29
    names = {case["name"] for case in LINE_CASES}
    for item in left_out:
        assert item["name"] not in names
        assert "nothing is asserted" in item["reason"]


@pytest.mark.parametrize("case", ESCAPE_CASES, ids=[repr(c["input"]) for c in ESCAPE_CASES])
def test_escape_case(case: dict[str, str]) -> None:
    """``EscapeMetricName`` table."""
    assert escape_metric_name(case["input"]) == case["expected"]


def _check_lookup(mapper: MetricMapper, want: dict[str, Any], use_cache: bool) -> None:
    result = mapper.get_mapping(want["statsd_metric"], want["metric_type"], use_cache=use_cache)
    present = result is not None
    mapping = result.mapping if result is not None else None
    if present and want.get("name") is not None:
        assert result.name == want["name"]
    if want.get("not_present"):
        assert not present
    if want.get("present"):
        assert present
    if want.get("labels") is not None:
        assert (result.labels if result is not None else {}) == want["labels"]
    if want.get("ttl_seconds"):
        assert mapping is not None and mapping.ttl == want["ttl_seconds"]
    if want.get("assert_match_metric_type"):
        assert mapping is not None and mapping.match_metric_type == want["metric_type"]
    if want.get("buckets") is not None:
        assert mapping is not None and list(mapping.buckets or ()) == want["buckets"]
    if want.get("quantiles") is not None:
        assert mapping is not None and mapping.summary is not None
        assert [{"quantile": q, "error": e} for q, e in mapping.summary.quantiles] == want["quantiles"]
    for key, attr in (("max_age_seconds", "max_age"), ("age_buckets", "age_buckets"), ("buf_cap", "buf_cap")):
        if want.get(key) is not None:
            assert mapping is not None and mapping.summary is not None
            assert getattr(mapping.summary, attr) == want[key]
    if "scale" in want:
        assert mapping is not None and mapping.scale == want["scale"]
    elif mapping is not None:
        assert mapping.scale is None


@pytest.mark.parametrize("case", MAPPING_TABLE["cases"], ids=[c["name"] for c in MAPPING_TABLE["cases"]])
def test_mapping_case(case: dict[str, Any]) -> None:
    """Load the config (or refuse it), then check every lookup with and without the LRU cache."""
    mapper = MetricMapper(cache_size=1000)
    if case["config_bad"]:
        with pytest.raises(MappingConfigError):
            mapper.load_yaml(case["config"])
        return
    mapper.load_yaml(case["config"])
    if "expected_action" in case:
        first = mapper.config.mappings[0].action if mapper.config.mappings else "map"
        assert first == case["expected_action"]
    for _ in range(case.get("repeat", 1)):
        for want in case["mappings"]:
            _check_lookup(mapper, want, use_cache=False)
            _check_lookup(mapper, want, use_cache=True)
