"""TaskFlow tasks that read or write data send their datasets through the provider's public API."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from airflow.providers.openlineage import api
from openlineage.client.serde import Serde

from lineage.jobs import JOBS
from orchestration import lineage_binding, tasks
from tests.unit.lineage._spec import facet_errors

TASK_JOBS = sorted(job for job in JOBS if job.startswith("tasks."))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(api, "is_openlineage_active", lambda: True)
    monkeypatch.setattr(api, "emit_dataset_lineage", lambda **kwargs: calls.append(kwargs))
    return calls


@pytest.mark.parametrize("job", TASK_JOBS)
def test_every_task_row_is_reported_by_its_task(job: str) -> None:
    """Each ``tasks.<function>`` row names a task function that reports it."""
    function = getattr(tasks, job.removeprefix("tasks."))
    assert f'"{job}"' in inspect.getsource(function.function)


def test_the_snapshot_task_sends_its_datasets_with_facets(sent: list[dict[str, Any]]) -> None:
    lineage_binding.emit_for_task("tasks.trading_snapshot", {"equity": 100_000.0})
    (call,) = sent
    assert call["raise_on_error"] is True
    assert {d.name for d in call["inputs"]} == {"db/positions", "db/account", "db/ohlcv"}
    (out,) = call["outputs"]
    assert out.name == "db/equity_snapshots" and out.outputFacets["outputStatistics"].rowCount == 1
    for key, facet in out.facets.items():
        assert facet_errors(key, json.loads(Serde.to_json(facet)), "dataset") == []


def test_a_report_task_writes_the_report_files(sent: list[dict[str, Any]]) -> None:
    lineage_binding.emit_for_task("tasks.run_report", {"html": "x"})
    assert {d.name for d in sent[0]["outputs"]} == {"reports/performance_report.html",
                                                    "reports/performance_report.json"}


def test_nothing_is_sent_when_openlineage_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "is_openlineage_active", lambda: False)
    monkeypatch.setattr(api, "emit_dataset_lineage", lambda **kwargs: pytest.fail("sent while off"))
    lineage_binding.emit_for_task("tasks.trading_snapshot", {})


def test_disabled_lineage_is_decided_before_the_providers_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """``[openlineage] disabled``: the task returns on the provider's setting, without the API's imports."""
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__DISABLED", "true")
    monkeypatch.setattr(api, "is_openlineage_active", lambda: pytest.fail("the provider's API was consulted"))
    lineage_binding.emit_for_task("tasks.trading_snapshot", {})


def test_a_failed_emission_is_counted_never_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from foundation import failures

    counted: list[tuple[str, str]] = []
    monkeypatch.setattr(api, "is_openlineage_active", lambda: True)

    def broken(**kwargs: Any) -> None:
        raise ConnectionError("marquez down")

    monkeypatch.setattr(api, "emit_dataset_lineage", broken)
    monkeypatch.setattr(failures, "report_failure", lambda component, reason, *a, **k: counted.append(
        (component, reason)))
    lineage_binding.emit_for_task("tasks.trading_snapshot", {})
    assert counted == [("lineage", "emit")]


def test_the_provider_accepts_our_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real ``emit_dataset_lineage`` checks its arguments, then looks for the running task: outside a
    task it fails on the latter, which proves the datasets passed its checks."""
    from airflow.providers.openlineage.api import datasets as api_datasets

    monkeypatch.setattr(api_datasets, "is_openlineage_active", lambda: True)
    lineage = lineage_binding.operator_lineage("tasks.run_report", lineage_binding.observe("tasks.run_report"))
    with pytest.raises(Exception) as info:
        api_datasets.emit_dataset_lineage(inputs=lineage.inputs, outputs=lineage.outputs, raise_on_error=True)
    assert isinstance(info.value, RuntimeError) and "context" in str(info.value).lower(), info.value


def test_a_failure_is_reported_as_an_observability_failure_event(monkeypatch: pytest.MonkeyPatch,
                                                                 pmx_home: Any) -> None:
    from foundation.pipeline_logger import read_events

    monkeypatch.setattr(api, "is_openlineage_active", lambda: True)

    def broken(**kwargs: Any) -> None:
        raise ConnectionError("marquez down")

    monkeypatch.setattr(api, "emit_dataset_lineage", broken)
    lineage_binding.emit_for_task("tasks.trading_snapshot", {})
    assert lineage_binding.for_operator_guarded("run_auto_trader.run", [], "failure", error=RuntimeError("x"),
                                                task_instance=object()) is not None
    events = [e for e in read_events(pmx_home / "logs" / "pipeline", "events")
              if e["event"] == "observability_failure"]
    assert [(e["component_failed"], e["reason"], e.get("job")) for e in events] == [
        ("lineage", "emit", "tasks.trading_snapshot")]
