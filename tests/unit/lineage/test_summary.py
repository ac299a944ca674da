"""The lineage summary: the graph of the last DAG run from stored events, its chain, its text and its CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lineage.summary import (
    LineageGraph,
    build_graph,
    chain_breaks,
    collapse,
    file_transport_path,
    read_events,
    render_text,
)
from local_stack import lineage_summary

NS = "portfolio_maximizer"
DAG = "portfolio_master"


def _ds(*names: str) -> list[dict[str, Any]]:
    return [{"namespace": NS, "name": n, "facets": {}} for n in names]


def dag_event(state: str, run_id: str, ol_id: str, at: str) -> dict[str, Any]:
    """A DAG-run event as the provider writes it (``airflowDagRun``, no parent)."""
    return {"eventType": state, "eventTime": f"2026-01-02T{at}+00:00",
            "job": {"namespace": "portfolio-maximizer", "name": DAG},
            "run": {"runId": ol_id, "facets": {"airflowDagRun": {"dag": {"dag_id": DAG},
                                                                 "dagRun": {"dag_id": DAG, "run_id": run_id}}}},
            "inputs": [], "outputs": []}


def task_event(state: str, task: str, run_id: str, ol_id: str, at: str, inputs: tuple[str, ...] = (),
               outputs: tuple[str, ...] = (), task_run: str | None = None) -> dict[str, Any]:
    """A task event (``airflow`` run facet and ``parent``), as the provider and ``emit_dataset_lineage`` write."""
    parent = {"job": {"namespace": "portfolio-maximizer", "name": DAG}, "run": {"runId": ol_id}}
    return {"eventType": state, "eventTime": f"2026-01-02T{at}+00:00",
            "job": {"namespace": "portfolio-maximizer", "name": f"{DAG}.{task}"},
            "run": {"runId": task_run or f"{ol_id}-{task}",
                    "facets": {"parent": {**parent, "root": parent},
                               "airflow": {"dag": {"dag_id": DAG}, "dagRun": {"dag_id": DAG, "run_id": run_id},
                                           "task": {"task_id": task}}}},
            "inputs": _ds(*inputs), "outputs": _ds(*outputs)}


def pipeline_run(run_id: str, ol_id: str, hour: str) -> list[dict[str, Any]]:
    """One master run: ETL batch, a trade batch, a TaskFlow snapshot, a task without datasets."""
    t = f"{hour}:00:0"
    return [
        dag_event("START", run_id, ol_id, t + "0"),
        task_event("START", "env_sanity.validate_environment", run_id, ol_id, t + "1"),
        task_event("COMPLETE", "env_sanity.validate_environment", run_id, ol_id, t + "2"),
        task_event("START", "etl.batch", run_id, ol_id, t + "3", ("cache/market_data", "db/ohlcv"),
                   ("db/ohlcv", "staging")),
        task_event("COMPLETE", "etl.batch", run_id, ol_id, t + "4",
                   ("market_data/yfinance/AAPL", "synthetic/MSFT", "db/ohlcv", "cache/market_data"),
                   ("db/ohlcv", "db/etl_runs", "db/forecasts", "staging", "cache/market_data")),
        task_event("START", "trading.trade", run_id, ol_id, t + "5", ("db/ohlcv", "db/forecasts", "db/positions"),
                   ("db/signals", "db/trades", "db/positions")),
        task_event("COMPLETE", "trading.trade", run_id, ol_id, t + "6", ("db/ohlcv", "db/forecasts"),
                   ("db/signals", "db/trades", "db/positions")),
        task_event("START", "trading_snapshot", run_id, ol_id, t + "7"),
        task_event("RUNNING", "trading_snapshot", run_id, ol_id, t + "8", ("db/positions",),
                   ("db/equity_snapshots",)),
        task_event("COMPLETE", "trading_snapshot", run_id, ol_id, t + "9"),
        dag_event("COMPLETE", run_id, ol_id, f"{hour}:00:10"),
    ]


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return pipeline_run("manual__old", "ol-old", "10") + pipeline_run("manual__new", "ol-new", "11")


def _job(graph: LineageGraph, task: str) -> Any:
    return next(j for j in graph.jobs if j.task == task)


def test_the_last_run_with_every_event_of_each_task_merged(events: list[dict[str, Any]]) -> None:
    graph = build_graph(events)
    assert graph is not None
    assert (graph.dag_id, graph.run_id, graph.openlineage_run_id) == (DAG, "manual__new", "ol-new")
    assert graph.events == 11 and graph.runs_seen == 2
    batch = _job(graph, "etl.batch")
    assert batch.job == f"{DAG}.etl.batch" and batch.states == {"COMPLETE": 1}
    assert set(batch.inputs) == {"market_data/yfinance/AAPL", "synthetic/MSFT", "db/ohlcv", "cache/market_data"}
    assert "staging" in batch.outputs
    snapshot = _job(graph, "trading_snapshot")  # its datasets came on the extra RUNNING event only
    assert (snapshot.inputs, snapshot.outputs) == (("db/positions",), ("db/equity_snapshots",))
    assert _job(graph, "env_sanity.validate_environment").inputs == ()


def test_sources_and_sinks(events: list[dict[str, Any]]) -> None:
    graph = build_graph(events)
    assert graph is not None
    assert graph.sources == ("market_data/yfinance/AAPL", "synthetic/MSFT")
    assert graph.sinks == ("db/equity_snapshots", "db/etl_runs", "db/signals", "db/trades", "staging")


def test_a_run_chosen_by_airflow_or_openlineage_id_and_by_dag(events: list[dict[str, Any]]) -> None:
    for wanted in ("manual__old", "ol-old"):
        graph = build_graph(events, run_id=wanted)
        assert graph is not None and graph.run_id == "manual__old"
    assert build_graph(events, run_id="nope") is None
    assert build_graph(events, dag_id="other_dag") is None
    assert build_graph([]) is None


def test_the_last_run_is_the_one_that_began_last_not_the_last_line(events: list[dict[str, Any]]) -> None:
    late_line = task_event("COMPLETE", "monitoring.quant_health", "manual__old", "ol-old", "11:30:00")
    graph = build_graph([*events, late_line])
    assert graph is not None and graph.run_id == "manual__new"


def test_a_task_event_without_the_airflow_facet_joins_its_run_by_parent(events: list[dict[str, Any]]) -> None:
    bare = task_event("COMPLETE", "report", "manual__new", "ol-new", "11:00:09", outputs=("reports/r.html",))
    del bare["run"]["facets"]["airflow"]
    graph = build_graph([*events, bare])
    assert graph is not None and graph.run_id == "manual__new"
    assert _job(graph, "report").outputs == ("reports/r.html",)


def test_retries_and_mapped_instances_count_their_final_states() -> None:
    events = [dag_event("START", "r", "ol", "09:00:00")]
    for task_run, states in (("try1", ("START", "FAIL")), ("try2", ("START", "COMPLETE")),
                             ("map1", ("START", "COMPLETE"))):
        events += [task_event(s, "trading.trade", "r", "ol", f"09:00:0{i + 1}", task_run=task_run)
                   for i, s in enumerate(states)]
    graph = build_graph(events)
    assert graph is not None
    assert _job(graph, "trading.trade").states == {"COMPLETE": 2, "FAIL": 1}


def test_the_pipeline_chain_is_connected(events: list[dict[str, Any]]) -> None:
    graph = build_graph(events)
    assert graph is not None
    assert chain_breaks(graph) == []


def test_a_broken_chain_says_where() -> None:
    run = [e for e in pipeline_run("r", "ol", "09") if e["job"]["name"] != f"{DAG}.trading.trade"]
    graph = build_graph(run)
    assert graph is not None
    assert chain_breaks(graph) == ["no dataset db/signals in the run", "no dataset db/trades in the run"]
    cut = build_graph([*run, task_event("COMPLETE", "gen", "r", "ol", "09:00:09", (), ("db/signals", "db/trades"))])
    assert cut is not None
    assert chain_breaks(cut) == ["db/signals does not follow from db/forecasts"]


def test_bad_lines_are_counted_and_skipped(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    file = tmp_path / "events.jsonl"
    lines = [json.dumps(e) for e in events]
    lines[3:3] = ["{not json", "", "[1, 2]", json.dumps({"eventType": "START"})]
    file.write_text("\n".join(lines) + "\n" + json.dumps(events[0])[:40])  # a torn last line
    read, bad = read_events(file)
    assert (len(read), bad) == (len(events), 4)


def test_the_text_shows_jobs_the_chain_sources_and_sinks(events: list[dict[str, Any]]) -> None:
    graph = build_graph(events, bad_lines=2)
    assert graph is not None
    text = render_text(graph)
    assert "DAG run portfolio_master manual__new (OpenLineage run ol-new)" in text
    assert "skipped 2 unreadable line(s)" in text
    assert "  etl.batch [COMPLETE]\n" in text
    assert ("chain: market_data/yfinance/AAPL + synthetic/MSFT -> etl.batch -> db/ohlcv -> etl.batch -> "
            "db/forecasts -> trading.trade -> db/signals & db/trades (with it, by trading.trade)") in text
    assert "sources (no job wrote them): market_data/yfinance/AAPL, synthetic/MSFT" in text
    assert "without datasets: env_sanity.validate_environment" in text


def test_per_ticker_datasets_are_collapsed_for_display() -> None:
    assert collapse(["market_data/yfinance/MSFT", "market_data/yfinance/AAPL", "db/ohlcv", "synthetic/NVDA"]) == [
        "db/ohlcv", "market_data/yfinance/{AAPL,MSFT}", "synthetic/NVDA"]


def test_the_file_transport_path_is_found_inside_wrapping_transports() -> None:
    inner = {"type": "file", "log_file_path": "/x/events.jsonl", "append": True}
    assert file_transport_path(json.dumps({"type": "transform", "transport": inner})) == "/x/events.jsonl"
    assert file_transport_path({"type": "composite", "transports": {"a": {"type": "console"}, "b": inner}}) \
        == "/x/events.jsonl"
    assert file_transport_path({"type": "http", "url": "http://m:5000"}) is None
    assert file_transport_path("not json") is None


def test_the_cli_prints_the_last_run(tmp_path: Path, events: list[dict[str, Any]],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "events.jsonl"
    file.write_text("".join(json.dumps(e) + "\n" for e in events) + "garbage\n")
    assert lineage_summary.main(["--events", str(file)]) == 0
    out = capsys.readouterr().out
    assert "manual__new" in out and "skipped 1 unreadable line(s)" in out
    assert lineage_summary.main(["--events", str(file), "--run-id", "manual__old", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["run_id"] == "manual__old" and shown["chain_breaks"] == []
    assert lineage_summary.main(["--events", str(tmp_path / "missing.jsonl")]) == 1
    assert lineage_summary.main(["--events", str(file), "--dag", "other"]) == 1


def test_the_cli_defaults_to_the_stack_file_transport(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMX_AIRFLOW_HOME", str(tmp_path))
    assert lineage_summary.default_events_path() == tmp_path.resolve() / "openlineage" / "events.jsonl"
