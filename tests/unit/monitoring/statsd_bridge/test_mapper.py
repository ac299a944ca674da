"""Mapping-file loading (clear errors) and matching rules beyond the upstream tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring.statsd_bridge.config import load_config
from monitoring.statsd_bridge.config_model import MappingConfigError
from monitoring.statsd_bridge.durations import parse_duration
from monitoring.statsd_bridge.mapper import MetricMapper


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("mappings:\n- match: a.*\n  name: x\n  lables: {}\n", "unknown key(s): lables"),
        (
            "mappings:\n- match: a.*\n  name: x\n  observer_type: histogram\n"
            "  histogram_options: {buckets: [1, 1]}\n",
            "strictly increasing",
        ),
        ("mappings:\n- match: a.*\n  name: x\n  ttl: ten seconds\n", "invalid duration"),
        ("mappings:\n- match: a.*\n  name: x\n  labels: {a: b}\n", "invalid label key: 'a'"),
        ("mappings:\n- match: a..b\n  name: x\n", "invalid match: 'a..b'"),
        (
            "mappings:\n- match: a.*\n  name: x\n- match: a.*\n  name: y\n  match: b\n",
            "duplicate key 'match'",
        ),
        ("defaults: {glob_disable_ordering: yes please}\n", "glob_disable_ordering"),
        ("mappings: {match: a}\n", "'mappings' must be a list"),
        (
            "mappings:\n- match: a.*\n  name: x\n  scale: big\n",
            "mappings[0] (match 'a.*').scale: expected a number",
        ),
    ],
    ids=[
        "unknown-key",
        "buckets-order",
        "bad-ttl",
        "short-label",
        "empty-segment",
        "duplicate-key",
        "bad-bool",
        "mappings-not-list",
        "bad-scale",
    ],
)
def test_bad_config_names_source_and_problem(yaml_text: str, message: str) -> None:
    """Every refusal names the file and the offending key or value."""
    with pytest.raises(MappingConfigError) as info:
        load_config(yaml_text, "conf/mapping.yml")
    assert str(info.value).startswith("conf/mapping.yml: ")
    assert message in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A path that does not exist gives a MappingConfigError, not an OSError traceback."""
    with pytest.raises(MappingConfigError, match="cannot read mapping file"):
        MetricMapper.from_file(tmp_path / "nope.yml")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("10s", 10.0),
        ("1m2s", 62.0),
        ("1h", 3600.0),
        ("250ms", 0.25),
        ("1.5h", 5400.0),
        ("-3s", -3.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    """Go duration syntax."""
    assert parse_duration(text) == pytest.approx(seconds)


def test_scientific_scale_written_without_dot_is_a_number() -> None:
    """``scale: 1e-6`` is a string for YAML 1.1 but a float for Go's yaml: accept it as a number."""
    config = load_config("mappings:\n- match: a.*\n  name: x\n  scale: 1e-6\n")
    assert config.mappings[0].scale == 1e-6


def test_first_glob_in_file_order_wins_and_regex_only_after_globs() -> None:
    """Ordering: globs (first match) before any regex, even a regex listed first."""
    mapper = MetricMapper(
        load_config(
            "mappings:\n"
            "- {match: '^a\\.', match_type: regex, name: by_regex}\n"
            "- {match: a.*.c, name: first}\n"
            "- {match: a.b.c, name: second}\n"
        )
    )
    assert mapper.get_mapping("a.b.c", "counter").name == "first"  # type: ignore[union-attr]
    assert mapper.get_mapping("a.x", "counter").name == "by_regex"  # type: ignore[union-attr]


def test_glob_disable_ordering_prefers_literal_segments() -> None:
    """With ordering disabled the more specific glob wins regardless of position."""
    mapper = MetricMapper(
        load_config(
            "defaults: {glob_disable_ordering: true}\nmappings:\n"
            "- {match: a.*.c, name: wild}\n- {match: a.b.c, name: exact}\n"
        )
    )
    assert mapper.get_mapping("a.b.c", "counter").name == "exact"  # type: ignore[union-attr]
    assert mapper.get_mapping("a.z.c", "counter").name == "wild"  # type: ignore[union-attr]


def test_match_metric_type_selects_the_rule() -> None:
    """Same glob, different rule per StatsD type."""
    mapper = MetricMapper(
        load_config(
            "mappings:\n- {match: a.*, name: a_total, match_metric_type: counter}\n"
            "- {match: a.*, name: a_seconds, match_metric_type: observer}\n"
        )
    )
    assert mapper.get_mapping("a.x", "counter").name == "a_total"  # type: ignore[union-attr]
    assert mapper.get_mapping("a.x", "observer").name == "a_seconds"  # type: ignore[union-attr]
    assert mapper.get_mapping("a.x", "gauge") is None


def test_reload_resets_cache_and_failed_reload_keeps_old_rules() -> None:
    """A successful reload is visible immediately; a bad one changes nothing."""
    mapper = MetricMapper(load_config("mappings:\n- {match: a.*, name: old}\n"))
    assert mapper.get_mapping("a.x", "counter").name == "old"  # type: ignore[union-attr]
    mapper.load_yaml("mappings:\n- {match: a.*, name: new}\n")
    assert mapper.get_mapping("a.x", "counter").name == "new"  # type: ignore[union-attr]
    with pytest.raises(MappingConfigError):
        mapper.load_yaml("mappings:\n- {match: a.*, name: 9bad}\n")
    assert mapper.get_mapping("a.x", "counter").name == "new"  # type: ignore[union-attr]


def test_named_regex_groups_and_dollar_escape() -> None:
    """``${name}`` and ``$$`` follow Go's regexp.Expand."""
    mapper = MetricMapper(
        load_config(
            "mappings:\n- match: '^(?P<svc>\\w+)\\.req$'\n  match_type: regex\n  name: req_total\n"
            "  labels: {service: '${svc}', price: '$$5'}\n"
        )
    )
    result = mapper.get_mapping("api.req", "counter")
    assert result is not None and result.labels == {"service": "api", "price": "$5"}


def test_cache_is_bounded() -> None:
    """The LRU cache never grows past its size."""
    mapper = MetricMapper(load_config("mappings:\n- {match: a.*, name: x}\n"), cache_size=10)
    for i in range(100):
        mapper.get_mapping(f"a.{i}", "counter")
    assert len(mapper._cache) == 10
