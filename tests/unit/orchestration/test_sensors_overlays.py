"""The staging and prod overlays load, and staging's ``auto`` mode is gated by the market clock (no bypass)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

NY = ZoneInfo("America/New_York")


@pytest.fixture(params=["staging", "prod"])
def env(request: pytest.FixtureRequest, pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    from tests.support import reset_caches

    monkeypatch.setenv("PMX_ENV", request.param)
    reset_caches()
    return str(request.param)


def test_every_config_loads_under_the_overlay(env: str) -> None:
    from alerts.alerting_config import load_alerting
    from alerts.sla_config import clear_cache, load_sla_config
    from orchestration.config import load_orchestration
    from portfolio.settings import load_settings

    clear_cache()
    settings = load_settings()
    assert settings.execution_mode == {"staging": "auto", "prod": "live"}[env]
    hours = load_orchestration().market_hours
    assert (hours.max_wait_seconds, hours.bypass_in_synthetic_mode) == (60, True)
    assert load_sla_config().by_name("auto_trader_cycle") is not None
    assert load_alerting().routing


class _TI:
    def get_first_reschedule_date(self, context: object) -> None:
        return None


def _poke(local: datetime) -> tuple[bool, str]:
    from airflow.sdk.exceptions import AirflowSkipException

    from orchestration.config import load_orchestration
    from orchestration.sensors import MarketHoursSensor

    hours = load_orchestration().market_hours
    sensor = MarketHoursSensor(task_id="market_open", at=local.isoformat(), soft_fail=True,
                               max_wait_seconds=hours.max_wait_seconds,
                               bypass_in_synthetic_mode=hours.bypass_in_synthetic_mode)
    context = {"dag_run": SimpleNamespace(conf={}, dag_id="auto_trader", run_id="r"), "ti": _TI()}
    try:
        return True, sensor.execute(context)["reason"]
    except AirflowSkipException as exc:
        return False, str(exc)


def test_the_overlay_mode_is_gated_by_the_market_clock(env: str) -> None:
    """No conf, no Variable: the overlay's mode (auto / live) decides, and only synthetic bypasses the clock."""
    opened, why = _poke(datetime(2026, 12, 5, 11, 0, tzinfo=NY))  # Saturday
    assert not opened and "weekend" in why
    opened, why = _poke(datetime(2026, 12, 3, 20, 0, tzinfo=NY))
    assert not opened and "after the close" in why
    assert _poke(datetime(2026, 12, 3, 11, 0, tzinfo=NY)) == (True, "open")


def test_the_dev_default_is_the_only_one_that_bypasses(pmx_home: Path) -> None:
    opened, why = _poke(datetime(2026, 12, 5, 11, 0, tzinfo=NY))
    assert (opened, why) == (True, "synthetic mode")
