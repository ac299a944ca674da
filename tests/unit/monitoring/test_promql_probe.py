"""The helpers that turn dashboards and rules into queries for a real Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.promql_probe import (
    ProbeQuery,
    panel_queries,
    recording_rules,
    substitute,
    without_zero_fallback,
)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('rate(x{dag_id=~"$dag_id"}[$__rate_interval])', 'rate(x{dag_id=~".*"}[1m])'),
        ('x{task_id=~"${task_id}"}', 'x{task_id=~".*"}'),
        ('x{sla=~"${sla:regex}"}[$__range]', 'x{sla=~".*"}[1h]'),
        ("sum(x)", "sum(x)"),
    ],
)
def test_substitute(expr: str, expected: str) -> None:
    """Grafana variables become fixed intervals or match-all regexes."""
    assert substitute(expr) == expected


def test_substitute_with_values() -> None:
    """A chosen value replaces the match-all default."""
    assert substitute('x{dag_id=~"$dag_id"}', {"dag_id": "etl_daily"}) == 'x{dag_id=~"etl_daily"}'


def test_without_zero_fallback() -> None:
    """Only a trailing ``or on() vector(0)`` is removed."""
    query = ProbeQuery("d", "p", "sum(rate(x[1m])) or on() vector(0)\n")
    assert without_zero_fallback(query).expr == "sum(rate(x[1m]))"


def test_panel_queries_walk_rows(tmp_path: Path) -> None:
    """Targets inside collapsed rows are found too."""
    board = {
        "panels": [
            {
                "type": "row",
                "title": "r",
                "panels": [{"title": "inner", "targets": [{"refId": "A", "expr": "up"}]}],
            },
            {"title": "outer", "targets": [{"refId": "B", "expr": "down"}, {"refId": "C"}]},
        ]
    }
    (tmp_path / "b.json").write_text(json.dumps(board))
    assert [(q.title, q.expr) for q in panel_queries(tmp_path)] == [
        ("inner [A]", "up"),
        ("outer [B]", "down"),
    ]


def test_recording_rules_listed() -> None:
    """Every recorded name of alerts/prometheus is listed once; by expression, every rule is, each its own label."""
    names = [q.title for q in recording_rules()]
    assert len(names) == len(set(names)) >= 10
    assert "statsd_bridge:lost_events:rate5m" in names
    rules = recording_rules(by_expression=True)
    assert len({q.label() for q in rules}) == len(rules) >= len(names)
    assert {q.title.split(" #")[0] for q in rules} == set(names)
