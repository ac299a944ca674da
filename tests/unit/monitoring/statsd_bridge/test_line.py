"""Line parsing beyond the upstream tables: Go number syntax, edge cases upstream would crash on."""

from __future__ import annotations

import math

import pytest

from monitoring.statsd_bridge.line import LineParser, ParseStats
from monitoring.statsd_bridge.values import go_format_float, go_int_truncate, parse_go_float


@pytest.mark.parametrize(
    ("text", "value", "ok"),
    [
        ("1", 1.0, True),
        ("-2.5e3", -2500.0, True),
        (".5", 0.5, True),
        ("5.", 5.0, True),
        ("Inf", math.inf, True),
        ("-infinity", -math.inf, True),
        ("0x1p-2", 0.25, True),
        ("0x1_0p0", 16.0, True),
        ("1e400", math.inf, False),
        ("1_000", 0.0, False),
        (" 1", 0.0, False),
        ("1 ", 0.0, False),
        ("+nan", 0.0, False),
        ("\u0661", 0.0, False),
        ("0x10", 0.0, False),
        ("", 0.0, False),
    ],
    ids=lambda v: repr(v),
)
def test_parse_go_float(text: str, value: float, ok: bool) -> None:
    """Exactly Go's ParseFloat acceptance (Python's float() is more permissive)."""
    assert parse_go_float(text) == (value, ok)


def test_parse_go_float_nan() -> None:
    """``NaN`` is accepted in any case."""
    value, ok = parse_go_float("nAn")
    assert ok and math.isnan(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.005, "0.005"),
        (1.0, "1"),
        (2.5, "2.5"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (1e-5, "1e-05"),
        (math.inf, "+Inf"),
        (0.99, "0.99"),
    ],
    ids=lambda v: repr(v),
)
def test_go_format_float(value: float, text: str) -> None:
    """``le``/``quantile`` label values are written the way client_golang writes them."""
    assert go_format_float(value) == text


@pytest.mark.parametrize(
    ("value", "result"), [(2.9, 2), (-2.9, -2), (math.inf, -(2**63)), (math.nan, -(2**63))]
)
def test_go_int_truncate(value: float, result: int) -> None:
    """Out-of-range conversions behave like Go on amd64 (never an exception)."""
    assert go_int_truncate(value) == result


def parse(line: str, **flags: bool) -> tuple[list[tuple[str, str, float, dict[str, str], int]], ParseStats]:
    stats = ParseStats()
    events = LineParser(**flags).parse_line(line, stats)
    return [(e.kind, e.name, e.value, dict(e.labels), e.count) for e in events], stats


def test_sample_rate_on_timer_is_a_count_not_a_copy() -> None:
    """``|@0.001`` stands for 1000 observations carried as one event (no 1000-element list)."""
    events, _ = parse("t:5|ms|@0.001")
    assert events == [("observer", "t", 0.005, {}, 1000)]


@pytest.mark.parametrize("line", ["t:5|ms|@1e-300", "t:5|ms|@-0.5", "t:5|ms|@2", "t:5|ms|@nan"])
def test_degenerate_sample_rates_give_no_event(line: str) -> None:
    """Rates whose inverse is not a positive int64 yield nothing (Go's loop runs zero times)."""
    assert parse(line)[0] == []


def test_reversed_signalfx_brackets_are_not_parsed() -> None:
    """``]`` before ``[``: upstream would slice out of range; here the name is kept, a tag error counted."""
    events, stats = parse("a]b[c:1|c")
    assert events == [("counter", "a]b[c", 1.0, {}, 1)]
    assert stats.tag_errors == 1


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("s:1|s", "illegal_event"),
        ("x:1|c|T1656581400", "invalid_sample_factor"),
        ("x:1|q", "illegal_event"),
        ("x", "malformed_line"),
        ("x:1:2|c", "invalid_extended_aggregate_type"),
        ("x:1", "not_enough_parts_after_colon"),
        ("x:1|c|" + "|".join(["@1"] * 7), "malformed_component"),
    ],
)
def test_invalid_lines_are_counted_by_reason(line: str, reason: str) -> None:
    """Sets and timestamps are not supported (as in statsd_exporter v0.30.0): dropped and counted."""
    events, stats = parse(line)
    assert events == []
    assert stats.sample_errors[reason] >= 1


def test_influx_tags_as_airflow_sends_them() -> None:
    """The tagged form Airflow emits with ``statsd_influxdb_enabled``."""
    events, stats = parse("airflow.ti.finish,dag_id=obs_demo,task_id=ok_task,state=success:1|c")
    assert events == [
        (
            "counter",
            "airflow.ti.finish",
            1.0,
            {"dag_id": "obs_demo", "task_id": "ok_task", "state": "success"},
            1,
        )
    ]
    assert stats.tags == 1
