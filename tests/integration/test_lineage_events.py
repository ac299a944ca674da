"""The OpenLineage events of the DAG set under the real scheduler: every event valid against the spec, every
spec facet valid against its own schema (offline), and the master run's graph connected as the pipeline is:
market data -> ohlcv -> forecasts -> signals -> trades."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def lineage_events(airflow_stack: Any, dag_set_runs: dict[str, dict]) -> list[dict[str, Any]]:
    """Every event the file transport wrote (the DAG set has run: ``dag_set_runs``)."""
    from lineage.summary import read_events

    events, bad = read_events(Path(airflow_stack.env["AIRFLOW_HOME"]) / "openlineage" / "events.jsonl")
    assert bad == 0
    return events


def test_every_event_and_every_spec_facet_is_valid(lineage_events: list[dict[str, Any]]) -> None:
    from tests.unit.lineage._spec import event_errors, every_facet, facet_errors, facet_schema

    assert len(lineage_events) > 100, "START and COMPLETE of every task of the twelve DAGs"
    bad, checked = [], 0
    for event in lineage_events:
        name = f"{event.get('job', {}).get('name')} {event.get('eventType')}"
        bad += [f"{name}: {e}" for e in event_errors(event)]
        for slot, key, facet in every_facet(event):
            if facet_schema(key, slot) is not None:  # the provider's own ``airflow*`` facets have no spec schema
                checked += 1
                bad += [f"{name}: {slot}.{key}: {e}" for e in facet_errors(key, facet, slot)]
    assert bad == []
    assert checked > len(lineage_events), "the spec facets were really checked"


def test_the_master_runs_graph_is_connected_as_the_pipeline(lineage_events: list[dict[str, Any]],
                                                            dag_set_runs: dict[str, dict]) -> None:
    from lineage.summary import build_graph, chain_breaks, render_text

    run = dag_set_runs["portfolio_master"]
    graph = build_graph(lineage_events, run_id=run["dag_run_id"], dag_id="portfolio_master")
    assert graph is not None, "the master run's events are in the file"
    assert chain_breaks(graph) == [], render_text(graph)
    jobs = {job.task: job for job in graph.jobs}
    assert "db/ohlcv" in jobs["etl.batch"].outputs and "db/forecasts" in jobs["etl.batch"].outputs
    assert {"db/signals", "db/trades"} <= set(jobs["trading.trade"].outputs)
    assert "db/ohlcv" in jobs["trading.trade"].inputs
    assert any(name.startswith("market_data/") or name.startswith("synthetic/")
               for name in jobs["etl.batch"].inputs), jobs["etl.batch"].inputs
