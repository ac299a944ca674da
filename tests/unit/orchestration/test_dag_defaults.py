"""Schedules come from config/orchestration.yml; ``PMX_SCHEDULES=off`` (``make run``) parses every DAG unscheduled."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

from orchestration.config import load_orchestration
from orchestration.dag_defaults import dag_kwargs


def test_every_dag_is_scheduled_on_its_cron_by_default(pmx_home: Path) -> None:
    for dag_id, spec in load_orchestration().dags.items():
        schedule = dag_kwargs(dag_id)["schedule"]
        assert isinstance(schedule, CronTriggerTimetable), dag_id
        assert schedule.expression == spec.schedule


def test_schedules_off_leaves_every_dag_manual_only(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestration.task_groups import OHLCV_ASSET

    assert isinstance(dag_kwargs("auto_trader", also_on_assets=[OHLCV_ASSET])["schedule"], AssetOrTimeSchedule)
    monkeypatch.setenv("PMX_SCHEDULES", "off")
    assert dag_kwargs("auto_trader", also_on_assets=[OHLCV_ASSET])["schedule"] is None
    assert {dag_id: dag_kwargs(dag_id)["schedule"] for dag_id in load_orchestration().dags} == dict.fromkeys(
        load_orchestration().dags)


def test_a_bad_schedules_switch_names_itself(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMX_SCHEDULES", "nope")
    with pytest.raises(ValueError, match="PMX_SCHEDULES='nope': expected 'on' or 'off'"):
        dag_kwargs("daily_etl")
