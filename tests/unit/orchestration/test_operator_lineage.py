"""Every custom operator reports its real inputs and outputs through the provider's default extractor."""

from __future__ import annotations

import inspect
import json
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.openlineage.extractors.base import DefaultExtractor
from airflow.providers.openlineage.extractors.manager import ExtractorManager
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.serde import Serde

from lineage.jobs import JOBS
from orchestration import operators
from orchestration.lineage_binding import quality_results, table_schemas
from portfolio.quality import RULES, DataQualityError
from tests.unit.lineage._spec import event_errors, every_facet, facet_errors

CANARY = "cAnArY-operator-3b9e"
OPERATORS = [cls for _, cls in inspect.getmembers(operators, inspect.isclass)
             if issubclass(cls, operators.PortfolioEntrypointOperator) and cls.__module__ == operators.__name__
             and getattr(cls, "entrypoint", None)]  # concrete operators (the bases name no entrypoint)
BATCH_RESULT = {"run_id": "r", "tickers": ["AAPL", "MSFT", "NVDA"], "succeeded": ["AAPL", "NVDA"],
                "failed": {"MSFT": {"error_type": "DataQualityError", "error": "bad", "rejected": True,
                                    "rules": ["calendar_gaps"]}},
                "rows_loaded": 2400, "sources": {"AAPL": "yfinance", "NVDA": "synthetic"}, "seconds": 1.5}


def _ti(try_number: int = 1, max_tries: int = 2) -> Any:
    return SimpleNamespace(try_number=try_number, max_tries=max_tries, dag_id="daily_etl", task_id="t",
                           run_id="r", map_index=-1)


def _names(datasets: list[Any]) -> set[str]:
    return {d.name for d in datasets}


def _event(lineage: Any, state: RunState) -> dict[str, Any]:
    event = RunEvent(eventType=state, eventTime=datetime.now(UTC).isoformat(),
                     run=Run(runId=str(uuid.uuid4()), facets=lineage.run_facets),
                     job=Job(namespace="portfolio-maximizer", name="daily_etl.t", facets=lineage.job_facets),
                     inputs=lineage.inputs, outputs=lineage.outputs, producer="https://example.invalid/p")
    return json.loads(Serde.to_json(event))


def _valid(lineage: Any, state: RunState) -> dict[str, Any]:
    event = _event(lineage, state)
    assert event_errors(event) == []
    for slot, key, facet in every_facet(event):
        assert facet_errors(key, facet, slot) == [], (slot, key)
    return event


@pytest.mark.parametrize("cls", OPERATORS, ids=lambda c: c.__name__)
def test_every_operator_has_a_row_of_the_lineage_table(cls: type[operators.PortfolioEntrypointOperator]) -> None:
    batch = "tickers" in inspect.signature(cls.__init__).parameters  # a batch operator takes its tickers
    op = cls(task_id="t", **({"tickers": ["AAPL"]} if batch else {}))
    assert op.lineage_job in JOBS
    assert ExtractorManager().get_extractor_class(op) is DefaultExtractor
    start = DefaultExtractor(op).extract()
    assert start is not None
    # the generator's tickers are known once it ran: its START names nothing
    assert bool(start.inputs or start.outputs) is (cls is not operators.SyntheticDataOperator)
    _valid(start, RunState.START)


def test_the_etl_batch_reports_sources_rows_quality_and_schemas() -> None:
    op = operators.PortfolioETLBatchOperator(task_id="batch", tickers=["AAPL", "MSFT", "NVDA"])
    op._lineage_result = BATCH_RESULT
    lineage = DefaultExtractor(op).extract_on_complete(_ti())
    assert lineage is not None
    assert {"market_data/yfinance/AAPL", "synthetic/NVDA", "db/ohlcv"} <= _names(lineage.inputs)
    assert {"db/ohlcv", "db/etl_runs", "db/forecasts", "checkpoints/etl"} <= _names(lineage.outputs)
    event = _valid(lineage, RunState.COMPLETE)
    ohlcv_in = next(d for d in event["inputs"] if d["name"] == "db/ohlcv")
    assertions = {a["assertion"]: a["success"] for a in ohlcv_in["inputFacets"]["dataQualityAssertions"]["assertions"]}
    assert list(assertions) == list(RULES) and assertions["calendar_gaps"] is False
    assert sum(not ok for ok in assertions.values()) == 1
    ohlcv_out = next(d for d in event["outputs"] if d["name"] == "db/ohlcv")
    assert ohlcv_out["outputFacets"]["outputStatistics"]["rowCount"] == 2400
    assert [f["name"] for f in ohlcv_out["facets"]["schema"]["fields"]][:3] == ["ticker", "date", "open"]


def test_a_start_event_names_no_provider_yet_and_carries_no_schema() -> None:
    op = operators.PortfolioETLBatchOperator(task_id="batch", tickers=["AAPL"])
    start = DefaultExtractor(op).extract()
    assert start is not None
    assert not any(n.startswith("market_data/") for n in _names(start.inputs))
    assert all("schema" not in d.facets for d in [*start.inputs, *start.outputs])


def test_a_quality_rejection_fails_for_good_with_its_rules_and_a_dead_letter() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from foundation import redaction

    redaction.register_secret(CANARY)
    op = operators.PortfolioETLRetryOperator(task_id="retry", ticker="MSFT")
    cause = DataQualityError("MSFT", "not_null", ["2024-01-02"], 1, f"token {CANARY}",
                             {"not_null": ["2024-01-02"], "positive_prices": []})
    failure = AirflowFailException(f"MSFT: rejected: {cause}")
    failure.__cause__ = cause
    op._lineage_error = failure
    lineage = DefaultExtractor(op).extract_on_failure(_ti(try_number=1, max_tries=3))
    assert lineage is not None
    assert "db/dead_letters" in _names(lineage.outputs)
    event = _valid(lineage, RunState.FAIL)
    assert CANARY not in json.dumps(event)
    assert event["run"]["facets"]["errorMessage"]["message"].startswith("AirflowFailException: MSFT")
    ohlcv_in = next(d for d in event["inputs"] if d["name"] == "db/ohlcv")
    failed = [a["assertion"] for a in ohlcv_in["inputFacets"]["dataQualityAssertions"]["assertions"]
              if not a["success"]]
    assert failed == ["not_null", "positive_prices"]


@pytest.mark.parametrize(("try_number", "dead_letter"), [pytest.param(1, False, id="will-retry"),
                                                         pytest.param(3, True, id="last-try")])
def test_only_the_last_try_writes_a_dead_letter(try_number: int, dead_letter: bool) -> None:
    op = operators.AutoTraderOperator(task_id="trade", ticker="AAPL")
    op._lineage_error = RuntimeError("broker down")
    lineage = DefaultExtractor(op).extract_on_failure(_ti(try_number=try_number, max_tries=2))
    assert lineage is not None
    assert ("db/dead_letters" in _names(lineage.outputs)) is dead_letter
    assert {"db/signals", "db/trades"} <= _names(lineage.outputs)


def test_the_trader_and_the_synthetic_generator_report_counts_and_versions() -> None:
    trader = operators.AutoTraderOperator(task_id="trade")
    trader._lineage_result = {"signals": {"BUY": 2, "HOLD": 3}, "traded": 2}
    done = DefaultExtractor(trader).extract_on_complete(_ti())
    assert done is not None
    rows = {d.name: d.outputFacets["outputStatistics"].rowCount for d in done.outputs if d.outputFacets}
    assert rows == {"db/signals": 5, "db/trades": 2}
    synthetic = operators.SyntheticDataOperator(task_id="gen")
    synthetic._lineage_result = {"dataset_id": "ds_2026", "tickers": ["AAPL", "MSFT"], "rows": 10}
    made = DefaultExtractor(synthetic).extract_on_complete(_ti())
    assert made is not None
    assert {(d.name, d.facets["version"].datasetVersion) for d in made.outputs} == {
        ("synthetic/AAPL", "ds_2026"), ("synthetic/MSFT", "ds_2026")}
    _valid(made, RunState.COMPLETE)


def test_a_lineage_failure_is_counted_and_the_event_goes_out_without_datasets(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from foundation import failures
    from orchestration import lineage_binding

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("lineage broke")

    counted: list[tuple[str, str]] = []
    monkeypatch.setattr(lineage_binding, "for_operator", boom)
    monkeypatch.setattr(failures, "report_failure", lambda component, reason, *a, **k: counted.append(
        (component, reason)))
    assert DefaultExtractor(operators.MonitoringOperator(task_id="m")).extract_on_complete(_ti()) is None
    assert counted == [("lineage", "extract")]


def test_table_schemas_come_from_the_migrations() -> None:
    schemas = table_schemas()
    assert "sqlite_sequence" not in schemas
    assert ("confidence", "REAL") in schemas["forecasts"]  # added by migration 2
    assert [c for c, _ in schemas["ohlcv"]] == ["ticker", "date", "open", "high", "low", "close", "volume",
                                                "source", "ingested_at"]


def test_quality_results_one_per_rule() -> None:
    assert quality_results(["calendar_gaps"]) == {rule: rule != "calendar_gaps" for rule in RULES}
