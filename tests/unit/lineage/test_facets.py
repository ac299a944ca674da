"""Every facet the pipeline produces validates against its facet schema, and a whole event against the spec."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.facet_v2 import job_type_job
from openlineage.client.serde import Serde

from lineage import facets
from lineage.operator_lineage import Observed, operator_lineage
from tests.unit.lineage._spec import event_errors, every_facet, facet_errors

CANARY = "cAnArY-lineage-7d1f"
COLUMNS = {"ohlcv": [("ticker", "TEXT"), ("date", "TEXT"), ("close", "REAL")],
           "etl_runs": [("run_id", "TEXT"), ("ticker", "TEXT"), ("status", "TEXT")]}


def _dict(facet: Any) -> dict[str, Any]:
    return json.loads(Serde.to_json(facet))


@pytest.mark.parametrize(("key", "slot", "facet"), [
    pytest.param("schema", "dataset", lambda: facets.schema(COLUMNS["ohlcv"]), id="schema"),
    pytest.param("version", "dataset", lambda: facets.version("ds-20260101"), id="version"),
    pytest.param("outputStatistics", "outputFacets", lambda: facets.output_statistics(1250), id="outputStatistics"),
    pytest.param("dataQualityAssertions", "inputFacets",
                 lambda: facets.quality_assertions({"not_null": True, "calendar_gaps": False}),
                 id="dataQualityAssertions"),
    pytest.param("errorMessage", "run", lambda: facets.error_message("boom"), id="errorMessage"),
])
def test_each_facet_validates_against_its_schema(key: str, slot: str, facet: Any) -> None:
    assert facet_errors(key, _dict(facet()), slot) == []


def test_a_schema_facet_keeps_the_column_order() -> None:
    fields = _dict(facets.schema(COLUMNS["ohlcv"]))["fields"]
    assert [(f["name"], f["type"], f["ordinal_position"]) for f in fields] == [
        ("ticker", "TEXT", 1), ("date", "TEXT", 2), ("close", "REAL", 3)]


def test_the_error_message_is_scrubbed_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from foundation import redaction

    redaction.register_secret(CANARY)
    facet = _dict(facets.error_message(f"connect failed: password={CANARY} " + "x" * 5000))
    assert CANARY not in json.dumps(facet)
    assert len(facet["message"]) <= facets.MAX_ERROR_CHARS + 50


def _event(observed: Observed, job: str, state: RunState = RunState.COMPLETE) -> dict[str, Any]:
    """A whole event as the provider builds one from an ``OperatorLineage``, serialized as it sends it."""
    lineage = operator_lineage(job, observed, COLUMNS)
    event = RunEvent(eventType=state, eventTime=datetime.now(UTC).isoformat(),
                     run=Run(runId=str(uuid.uuid4()), facets=lineage.run_facets),
                     job=Job(namespace="portfolio-maximizer", name=f"daily_etl.{job}", facets={
                         "jobType": job_type_job.JobTypeJobFacet(jobType="TASK", integration="AIRFLOW",
                                                                 processingType="BATCH")}),
                     inputs=lineage.inputs, outputs=lineage.outputs,
                     producer="https://github.com/apache/airflow/tree/providers-openlineage/2.20.3")
    return json.loads(Serde.to_json(event))


ETL_RUN = Observed(tickers=["AAPL", "MSFT"], providers={"AAPL": "yfinance", "MSFT": "synthetic"},
                   rows={"db/ohlcv": 2500, "db/etl_runs": 2}, quality={"not_null": True, "calendar_gaps": False})


@pytest.mark.parametrize(("job", "observed", "state"), [
    pytest.param("run_etl_pipeline.run_batch", ETL_RUN, RunState.COMPLETE, id="etl-batch-complete"),
    pytest.param("run_etl_pipeline.run_stage", Observed(tickers=["AAPL"], error=f"boom {CANARY}",
                                                        dead_lettered=True), RunState.FAIL, id="etl-retry-fail"),
    pytest.param("generate_synthetic_dataset.run", Observed(tickers=["AAPL"], versions={"{synthetic}": "ds1"}),
                 RunState.COMPLETE, id="synthetic"),
    pytest.param("tasks.run_report", Observed(), RunState.COMPLETE, id="report-task"),
])
def test_a_whole_event_validates(job: str, observed: Observed, state: RunState) -> None:
    event = _event(observed, job, state)
    assert event_errors(event) == []
    produced = every_facet(event)
    assert produced
    for slot, key, facet in produced:
        assert facet_errors(key, facet, slot) == [], (slot, key)


def test_the_etl_event_names_its_datasets_and_facets() -> None:
    event = _event(ETL_RUN, "run_etl_pipeline.run_batch")
    inputs = {d["name"]: d for d in event["inputs"]}
    outputs = {d["name"]: d for d in event["outputs"]}
    assert {"market_data/yfinance/AAPL", "synthetic/MSFT", "db/ohlcv"} <= set(inputs)
    assert {d["namespace"] for d in [*event["inputs"], *event["outputs"]]} == {"portfolio_maximizer"}
    assertions = inputs["db/ohlcv"]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a["success"]) for a in assertions] == [("not_null", True), ("calendar_gaps", False)]
    assert outputs["db/ohlcv"]["outputFacets"]["outputStatistics"]["rowCount"] == 2500
    assert [f["name"] for f in outputs["db/ohlcv"]["facets"]["schema"]["fields"]] == ["ticker", "date", "close"]
    assert "db/dead_letters" not in outputs


def test_a_final_failure_writes_a_dead_letter_and_its_message_is_scrubbed() -> None:
    from foundation import redaction

    redaction.register_secret(CANARY)
    event = _event(Observed(tickers=["AAPL"], error=f"boom {CANARY}", dead_lettered=True),
                   "run_etl_pipeline.run_stage", RunState.FAIL)
    assert "db/dead_letters" in {d["name"] for d in event["outputs"]}
    assert event["run"]["facets"]["errorMessage"]["message"].startswith("boom")
    assert CANARY not in json.dumps(event)


def test_an_unknown_job_reads_and_writes_nothing() -> None:
    lineage = operator_lineage("nope.run", Observed())
    assert (lineage.inputs, lineage.outputs, lineage.run_facets) == ([], [], {})
