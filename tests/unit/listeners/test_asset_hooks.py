"""The asset hooks: one valid JSON event each, credentials and extra values never logged, never raising."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pluggy
import pytest
from airflow.listeners.spec import asset as asset_spec
from airflow.listeners.types import AssetEvent
from airflow.serialization.definitions.assets import SerializedAsset, SerializedAssetAlias

from listeners.hooks import PortfolioListener
from listeners.schema import schema_errors
from tests.unit.listeners._support import UdpReceiver, listener_events

SECRET = "pw-Asset-7731"


def _asset(uri: str = "file:///data/reports/performance_report.json", name: str = "performance_report") -> Any:
    return SerializedAsset(name=name, uri=uri, group="asset", extra={"owner": "ops"}, watchers=[])


def _alias(name: str = "daily_reports") -> Any:
    return SerializedAssetAlias(name=name, group="asset")


def _event(asset: Any) -> Any:
    return AssetEvent(asset=asset, extra={"api_token": SECRET, "rows": 12}, source_dag_id="daily_etl",
                      source_task_id="load", source_run_id="manual__1", source_map_index=-1,
                      source_aliases=[_alias()], partition_key=None)


def test_the_hooks_match_airflows_hookspecs() -> None:
    """pluggy refuses an implementation whose argument names differ from the spec's."""
    manager = pluggy.PluginManager("airflow")
    manager.add_hookspecs(asset_spec)
    manager.register(PortfolioListener())
    names = {impl.function.__name__ for hook in ("on_asset_created", "on_asset_alias_created",
                                                 "on_asset_changed", "on_asset_event_emitted")
             for impl in getattr(manager.hook, hook).get_hookimpls()}
    assert names == {"on_asset_created", "on_asset_alias_created", "on_asset_changed", "on_asset_event_emitted"}


def test_every_asset_hook_writes_one_valid_event(listener: PortfolioListener, pmx_home: Path) -> None:
    report = _asset()
    listener.on_asset_created(asset=report)
    listener.on_asset_alias_created(asset_alias=_alias())
    listener.on_asset_changed(asset=report)
    listener.on_asset_event_emitted(asset_event=_event(report))
    assert listener.flush(10)
    events = listener_events(pmx_home, "pipeline")
    assert [e["event"] for e in events] == ["asset_created", "asset_alias_created", "asset_changed",
                                            "asset_event_emitted"]
    assert {e["event"]: schema_errors(e) for e in events if schema_errors(e)} == {}
    emitted = events[-1]
    assert (emitted["asset_name"], emitted["asset_uri"], emitted["source_task_id"]) == (
        "performance_report", "file:///data/reports/performance_report.json", "load")
    assert emitted["source_aliases"] == ["daily_reports"] and emitted["extra_keys"] == ["api_token", "rows"]
    assert events[1]["alias_name"] == "daily_reports"
    assert listener.failures.total == 0


def test_credentials_in_a_uri_and_extra_values_are_never_logged(listener: PortfolioListener,
                                                                pmx_home: Path) -> None:
    table = _asset(uri=f"postgres://trader:{SECRET}@db.local:5432/pm/public/trades", name="trades")
    listener.on_asset_changed(asset=table)
    listener.on_asset_event_emitted(asset_event=_event(table))
    assert listener.flush(10)
    events = listener_events(pmx_home, "pipeline")
    assert SECRET not in json.dumps(events)
    assert events[0]["asset_uri"] == "postgres://***@db.local:5432/pm/public/trades"
    assert [schema_errors(e) for e in events] == [[], []]


class _Broken:
    @property
    def name(self) -> str:
        raise RuntimeError("cannot read the asset")


def test_a_failing_asset_hook_is_counted_and_swallowed(listener: PortfolioListener, pmx_home: Path,
                                                       udp: UdpReceiver) -> None:
    assert listener.on_asset_changed(asset=_Broken()) is None
    assert listener.on_asset_alias_created(asset_alias=_Broken()) is None
    listener.on_asset_created(asset=_asset())
    assert listener.flush(10)
    assert listener.failures.counts == {"hook_error": 2}
    assert [e["event"] for e in listener_events(pmx_home, "pipeline")] == ["asset_created"]
    reports = [e for e in listener_events(pmx_home, "events") if e["event"] == "observability_failure"]
    assert len(reports) == 1 and reports[0]["failed_hook"] == "on_asset_changed"
    assert len(udp.lines("pmx.observability.failure,component=listener,reason=hook_error:1|c")) == 2


@pytest.mark.parametrize(("uri", "shown"), [
    pytest.param("s3://bucket/key", "s3://bucket/key", id="plain"),
    pytest.param("postgres://u:p@h/db", "postgres://***@h/db", id="userinfo"),
    pytest.param("name-only", "name-only", id="no-scheme"),
])
def test_safe_uri(uri: str, shown: str) -> None:
    from listeners.events import safe_uri

    assert safe_uri(uri) == shown
