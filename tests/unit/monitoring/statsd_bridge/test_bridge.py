"""Exporter behaviour: what a packet does to the exported series (statsd_exporter's semantics)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.statsd_bridge.bridge import Bridge
from monitoring.statsd_bridge.config import load_config
from monitoring.statsd_bridge.line import LineParser, ParseStats
from monitoring.statsd_bridge.mapper import MetricMapper
from monitoring.statsd_bridge.selfmetrics import RESERVED_NAMES

MAPPING = """
defaults:
  observer_type: histogram
  histogram_options: {buckets: [0.1, 1, 10]}
mappings:
- {match: app.requests, name: app_requests_total}
- {match: app.latency, name: app_latency_seconds}
- {match: app.summary, name: app_summary_seconds, observer_type: summary,
   summary_options: {quantiles: [{quantile: 0.5, error: 0.05}], max_age: 1m, age_buckets: 2}}
- {match: app.kb, name: app_bytes, scale: 1024}
- {match: app.job.*, name: app_jobs_total, labels: {job: $1, source: mapping}, honor_labels: true}
- {match: app.legacy.*, name: dropped, action: drop}
- {match: app.short, name: app_short, ttl: 5s}
- {match: app.erase, name: app_erase_total, labels: {run_id: ""}}
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def make_bridge(text: str = MAPPING) -> Bridge:
    return Bridge(MetricMapper(load_config(text)), reserved_names=RESERVED_NAMES)


def samples(bridge: Bridge) -> Samples:
    out: Samples = {}
    for metric in bridge.registry.collect():
        for sample in metric.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(bridge: Bridge, name: str, **labels: str) -> float:
    return samples(bridge)[(name, frozenset(labels.items()))]


def test_counter_with_tags_and_sample_rate() -> None:
    """Influx tags become labels; ``|@0.5`` scales a counter."""
    bridge = make_bridge()
    bridge.handle_packet(b"app.requests,code=200:1|c\napp.requests,code=200:1|c|@0.5")
    assert value(bridge, "app_requests_total", code="200") == 3.0


def test_relative_and_absolute_gauges() -> None:
    """``+x``/``-x`` move a gauge, a plain value sets it (the StatsD ``0`` then ``-5`` idiom works)."""
    bridge = make_bridge()
    bridge.handle_packet(b"g:10|g\ng:-3|g\ng:+1|g")
    assert value(bridge, "g") == 8.0
    bridge.handle_packet(b"g:0|g\ng:-5|g")
    assert value(bridge, "g") == -5.0


def test_timer_in_ms_becomes_histogram_in_seconds() -> None:
    """``|ms`` is divided by 1000 and lands in the mapped buckets."""
    bridge = make_bridge()
    bridge.handle_packet(b"app.latency:500|ms\napp.latency:5000|ms\napp.latency:50|ms|@0.5")
    got = samples(bridge)
    assert got[("app_latency_seconds_bucket", frozenset({("le", "0.1")}))] == 2.0
    assert got[("app_latency_seconds_bucket", frozenset({("le", "1")}))] == 3.0
    assert got[("app_latency_seconds_bucket", frozenset({("le", "+Inf")}))] == 4.0
    assert got[("app_latency_seconds_count", frozenset())] == 4.0
    assert got[("app_latency_seconds_sum", frozenset())] == pytest.approx(5.6)


def test_summary_quantiles() -> None:
    """A summary mapping reports its quantiles, sum and count."""
    bridge = make_bridge()
    bridge.handle_packet(b"\n".join(f"app.summary:{v}|h".encode() for v in range(1, 101)))
    got = samples(bridge)
    assert got[("app_summary_seconds", frozenset({("quantile", "0.5")}))] == 50.0
    assert got[("app_summary_seconds_count", frozenset())] == 100.0


def test_unmapped_name_is_escaped() -> None:
    """No mapping: dots and dashes become underscores, a leading digit gets ``_``."""
    bridge = make_bridge()
    bridge.handle_packet(b"9web-server.hits:2|c")
    assert value(bridge, "_9web_server_hits") == 2.0
    with bridge.lock:
        bridge.fold_stats()
    assert bridge.event_stats.unmapped == 1


def test_drop_scale_honor_labels_and_erased_labels() -> None:
    """``action: drop``, ``scale``, ``honor_labels`` and a label erased with ``""``."""
    bridge = make_bridge()
    bridge.handle_packet(
        b"app.legacy.x:1|c\napp.kb:2|g\napp.job.etl,source=client:1|c\napp.erase,run_id=r1:1|c"
    )
    got = samples(bridge)
    assert not any(name.startswith("dropped") for name, _ in got)
    assert got[("app_bytes", frozenset())] == 2048.0
    assert got[("app_jobs_total", frozenset({("job", "etl"), ("source", "client")}))] == 1.0
    assert got[("app_erase_total", frozenset())] == 1.0


def test_negative_counter_is_refused_and_counted() -> None:
    """A negative counter increment is an error, not a decrement."""
    bridge = make_bridge()
    bridge.handle_packet(b"app.requests:5|c\napp.requests:-1|c")
    assert value(bridge, "app_requests_total") == 5.0
    with bridge.lock:
        bridge.fold_stats()
    assert bridge.event_stats.errors["illegal_negative_counter"] == 1


def test_type_conflict_is_counted_not_raised() -> None:
    """A name first seen as a counter cannot become a gauge; the event is dropped and counted."""
    bridge = make_bridge()
    bridge.handle_packet(b"x:1|c\nx:5|g\nx_count:1|c\nh:1|h\nh_count:2|g")
    with bridge.lock:
        bridge.fold_stats()
    assert value(bridge, "x") == 1.0
    assert bridge.event_stats.conflicts["gauge"] == 2
    assert ("h_count", frozenset()) in samples(bridge)


def test_new_label_set_for_known_name_adds_a_series() -> None:
    """The same name with a different label set is a new series, not an exception."""
    bridge = make_bridge()
    bridge.handle_packet(b"app.requests,code=200:1|c\napp.requests,code=200,path=/x:1|c\napp.requests:1|c")
    got = samples(bridge)
    assert got[("app_requests_total", frozenset({("code", "200")}))] == 1.0
    assert got[("app_requests_total", frozenset({("code", "200"), ("path", "/x")}))] == 1.0
    assert got[("app_requests_total", frozenset())] == 1.0


def test_self_metric_names_are_reserved_and_bad_labels_refused() -> None:
    """A client cannot overwrite the bridge's own metrics or use reserved label names."""
    bridge = make_bridge()
    bridge.handle_packet(b"statsd_exporter_lines_total:5|c\nz,__name__=y:1|c\nhh,le=1:1|h")
    assert samples(bridge) == {}


def test_ttl_expires_series() -> None:
    """A series with a TTL disappears once not updated for that long."""
    bridge = make_bridge()
    bridge.handle_packet(b"app.short:1|g\napp.requests:1|c", now=100.0)
    assert bridge.expire(now=104.0) == 0
    assert bridge.expire(now=106.0) == 1
    got = samples(bridge)
    assert ("app_short", frozenset()) not in got
    assert ("app_requests_total", frozenset()) in got
    bridge.handle_packet(b"app.short:2|g", now=107.0)
    assert value(bridge, "app_short") == 2.0


def test_invalid_utf8_line_is_dropped_alone() -> None:
    """One bad line in a packet does not take the good ones with it."""
    bridge = make_bridge()
    bridge.handle_packet(b"ok:1|c\nbad\xff:1|c\nok:1|c")
    assert value(bridge, "ok") == 2.0
    assert bridge.parse_stats.sample_errors["malformed_line"] == 1


line_strategy = st.builds(
    "{}{}:{}|{}{}".format,
    st.sampled_from(["app.requests", "app.latency", "g", "app.kb", "app.job.x", "app.legacy.y", "u-v.w"]),
    st.sampled_from(["", ",a=1", ",a=1,b=2", "#a=1", ",=x"]),
    st.sampled_from(["1", "2.5", "-3", "+4", "0", "1e3", "7"]),
    st.sampled_from(["c", "g", "ms", "h", "d"]),
    st.sampled_from(["", "", "|@0.5", "|#t:1"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(line_strategy, min_size=1, max_size=30))
def test_fast_path_equals_full_parser(lines: list[str]) -> None:
    """The cached hot path and the full parser + event path produce identical series."""
    fast = make_bridge()
    for line in lines:
        fast.handle_packet(line.encode())
    slow = make_bridge()
    parser, stats = LineParser(), ParseStats()
    for line in lines:
        for event in parser.parse_line(line, stats):
            slow.handle_event(event, now=0.0)
    got, want = samples(fast), samples(slow)
    assert got.keys() == want.keys()
    for key, expected in want.items():
        assert got[key] == expected or (math.isnan(got[key]) and math.isnan(expected)), key
