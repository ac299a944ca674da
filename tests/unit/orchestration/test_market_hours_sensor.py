"""MarketHoursSensor decisions on the dates that matter (times are New York wall-clock, checked as UTC)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

NY = ZoneInfo("America/New_York")


def _sensor(at: datetime, **kwargs: object):
    from orchestration.sensors import MarketHoursSensor

    return MarketHoursSensor(task_id="market_open", at=at.astimezone(ZoneInfo("UTC")).isoformat(), **kwargs)


class _TI:
    """The one task-instance call the sensor makes: the first poke of this try (None = this is the first)."""

    def __init__(self, first: datetime | None = None) -> None:
        self.first = first

    def get_first_reschedule_date(self, context: object) -> datetime | None:
        return self.first


def _context(conf: dict | None = None, first: datetime | None = None) -> dict:
    return {"dag_run": SimpleNamespace(conf=conf or {}, dag_id="auto_trader", run_id="r1"), "ti": _TI(first)}


def _decide(sensor, context: dict) -> tuple[bool, str]:
    """(open, reason-or-message): a closed market skips the cycle with its reason."""
    from airflow.sdk.exceptions import AirflowSkipException

    try:
        result = sensor.poke(context)
    except AirflowSkipException as exc:
        return False, str(exc)
    return bool(result), result.xcom_value["reason"]


@pytest.mark.parametrize(
    ("local", "is_open", "reason"),
    [
        pytest.param(datetime(2026, 11, 24, 11, 0), True, "open", id="regular-session-tuesday"),
        pytest.param(datetime(2026, 11, 28, 11, 0), False, "weekend", id="saturday"),
        pytest.param(datetime(2026, 11, 26, 11, 0), False, "holiday", id="thanksgiving-closed"),
        pytest.param(datetime(2026, 11, 27, 12, 30), True, "open", id="day-after-thanksgiving-morning"),
        pytest.param(datetime(2026, 11, 27, 13, 30), False, "early-close", id="day-after-thanksgiving-after-13h"),
        pytest.param(datetime(2026, 11, 24, 8, 0), False, "pre-market", id="pre-market"),
        pytest.param(datetime(2026, 11, 24, 9, 30), True, "open", id="opening-bell"),
        pytest.param(datetime(2026, 11, 24, 16, 30), False, "after-hours", id="after-hours"),
        pytest.param(datetime(2026, 3, 9, 9, 45), True, "open", id="dst-start-monday-open"),
        pytest.param(datetime(2026, 3, 8, 12, 0), False, "weekend", id="dst-start-sunday"),
        pytest.param(datetime(2026, 11, 2, 15, 59), True, "open", id="dst-end-monday-before-close"),
        pytest.param(datetime(2026, 11, 1, 12, 0), False, "weekend", id="dst-end-sunday"),
    ],
)
def test_poke(pmx_home: Path, local: datetime, is_open: bool, reason: str) -> None:
    opened, why = _decide(_sensor(local.replace(tzinfo=NY)), _context())
    assert opened is is_open
    from orchestration.sensors import WHY_CLOSED

    assert why == "open" if is_open else WHY_CLOSED[reason] in why


def test_dst_shifts_the_utc_opening_time(pmx_home: Path) -> None:
    # 09:35 New York is 14:35 UTC in winter and 13:35 UTC in summer: the same UTC instant differs in outcome
    winter_utc = datetime(2026, 3, 6, 13, 35, tzinfo=ZoneInfo("UTC"))  # Friday before DST starts: 08:35 NY
    summer_utc = datetime(2026, 3, 9, 13, 35, tzinfo=ZoneInfo("UTC"))  # Monday after DST starts: 09:35 NY
    opened, why = _decide(_sensor(winter_utc), _context())
    assert not opened and "before the open" in why
    assert _decide(_sensor(summer_utc), _context())[0] is True


def test_synthetic_runs_bypass_the_clock_only_when_asked(pmx_home: Path) -> None:
    saturday = datetime(2026, 11, 28, 11, 0, tzinfo=NY)
    bypassing = _sensor(saturday, bypass_in_synthetic_mode=True)
    assert bypassing.poke(_context({"execution_mode": "synthetic"})).xcom_value["reason"] == "synthetic mode"
    assert _decide(bypassing, _context({"execution_mode": "live"}))[0] is False
    assert _decide(_sensor(saturday), _context({"execution_mode": "synthetic"}))[0] is False


def test_defaults_hold_no_worker_slot() -> None:
    sensor = _sensor(datetime(2026, 11, 24, 11, 0, tzinfo=NY), soft_fail=True)
    assert sensor.mode == "reschedule"
    assert sensor.soft_fail is True
