"""The market gate decides at the first poke: trade, wait only for a near open inside the budget, or skip."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

NY = ZoneInfo("America/New_York")


class _TI:
    def __init__(self, first: datetime | None = None) -> None:
        self.first = first

    def get_first_reschedule_date(self, context: object) -> datetime | None:
        return self.first


def _context(first: datetime | None = None) -> dict:
    return {"dag_run": SimpleNamespace(conf={"execution_mode": "live"}, dag_id="auto_trader", run_id="r1"),
            "ti": _TI(first)}


def _sensor(at: datetime | str, **kwargs: object):
    from orchestration.sensors import MarketHoursSensor

    text = at if isinstance(at, str) else at.astimezone(UTC).isoformat()
    return MarketHoursSensor(task_id="market_open", at=text, soft_fail=True, poke_interval=60,
                             max_wait_seconds=60, **kwargs)


@pytest.mark.parametrize(
    ("local", "waited", "action", "why"),
    [
        pytest.param(datetime(2026, 12, 3, 7, 0), 0, "skip", "before the open", id="regular-0700"),
        pytest.param(datetime(2026, 12, 3, 9, 0), 0, "skip", "before the open", id="regular-0900"),
        pytest.param(datetime(2026, 12, 3, 9, 28, 59), 0, "skip", "before the open", id="61s-before-open"),
        pytest.param(datetime(2026, 12, 3, 9, 29), 0, "wait", "before the open", id="queued-0929-waits"),
        pytest.param(datetime(2026, 12, 3, 9, 29, 30), 45, "skip", "before the open", id="budget-used-up"),
        pytest.param(datetime(2026, 12, 3, 9, 30), 0, "trade", "open", id="opening-bell"),
        pytest.param(datetime(2026, 12, 3, 15, 59, 59), 0, "trade", "open", id="last-second"),
        pytest.param(datetime(2026, 12, 3, 16, 0), 0, "skip", "after the close", id="at-the-close"),
        pytest.param(datetime(2026, 12, 3, 20, 30), 0, "skip", "after the close", id="last-cycle-2030"),
        pytest.param(datetime(2026, 11, 27, 12, 30), 0, "trade", "open", id="early-close-day-1230"),
        pytest.param(datetime(2026, 11, 27, 13, 0), 0, "skip", "after the early close at 13:00",
                     id="early-close-1300"),
        pytest.param(datetime(2026, 12, 25, 10, 0), 0, "skip", "exchange holiday", id="christmas"),
        pytest.param(datetime(2026, 12, 5, 10, 0), 0, "skip", "weekend", id="saturday"),
        pytest.param(datetime(2027, 3, 15, 9, 0), 0, "skip", "before the open", id="dst-monday-0900"),
        pytest.param(datetime(2027, 3, 15, 9, 30), 0, "trade", "open", id="dst-monday-0930"),
    ],
)
def test_gate_decision(local: datetime, waited: float, action: str, why: str) -> None:
    from orchestration.sensors import gate_decision
    from portfolio.calendar import market_status

    decision = gate_decision(market_status(local.replace(tzinfo=NY)), waited, 60)
    assert decision.action == action, decision.message
    assert why in decision.message


def test_a_closed_cycle_is_skipped_by_the_first_poke_with_its_reason(pmx_home: Path) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    sensor = _sensor(datetime(2026, 12, 3, 7, 0, tzinfo=NY))
    with pytest.raises(AirflowSkipException, match=r"before the open.*beyond the 60s wait budget"):
        sensor.execute(_context())  # Airflow's own sensor loop: no reschedule, no timeout to wait for


def test_a_near_open_is_waited_for_exactly_then_trades(pmx_home: Path) -> None:
    from airflow.sdk.exceptions import AirflowRescheduleException

    sensor = _sensor(datetime(2026, 12, 3, 9, 29, 15, tzinfo=NY))
    before = datetime.now(UTC)
    with pytest.raises(AirflowRescheduleException) as rescheduled:
        sensor.execute(_context())
    wake = rescheduled.value.reschedule_date
    assert before + timedelta(seconds=44) <= wake <= datetime.now(UTC) + timedelta(seconds=46)
    # the next try: 45 s later on the wall clock, so the pinned clock reads 09:30:00
    assert sensor.execute(_context(first=datetime.now(UTC) - timedelta(seconds=45))) == {
        "open": True, "reason": "open"}


def test_shipped_settings_wait_no_longer_than_the_cycle_budget_allows(pmx_home: Path) -> None:
    """max_wait + the trade task's budget fits inside each gated DAG's queued SLA, with a minute to spare."""
    from alerts.sla_config import load_sla_config
    from orchestration.config import load_orchestration

    hours = load_orchestration().market_hours
    slas = load_sla_config()
    trade = next(b.budget for b in slas.task_budgets if b.dag_id == "auto_trader" and b.task_id == "trading.trade")
    for dag_id in ("auto_trader", "auto_trader_core"):
        (sla,) = slas.for_dag(dag_id)
        assert sla.reference == "queued"
        assert timedelta(seconds=hours.max_wait_seconds) + trade + timedelta(minutes=1) <= sla.budget, dag_id


def test_the_dag_sensor_reads_its_clock_from_the_run_conf(pmx_home: Path) -> None:
    from airflow.sdk import DAG

    from orchestration.sensors import CLOCK_CONF_KEY, MarketHoursSensor
    from orchestration.task_groups import trading_group

    with DAG("gate_probe", schedule=None):
        trading_group()
    with DAG("gate_probe_core", schedule=None) as core:
        trading_group(core=True)
    sensor = core.get_task("trading.market_open")
    assert isinstance(sensor, MarketHoursSensor)
    assert CLOCK_CONF_KEY in sensor.at and sensor.max_wait_seconds == 60 and sensor.soft_fail
    assert sensor.timeout == 60 + sensor.poke_interval  # Airflow's backstop only; the decision comes first


def test_past_the_calendar_limit_the_cycle_fails_with_an_incident(pmx_home: Path) -> None:
    from alerts.outbox import Outbox
    from orchestration.sensors import MarketCalendarUnavailable

    far = datetime.now(UTC) + timedelta(days=365 * 20)
    with pytest.raises(MarketCalendarUnavailable, match="horizon limit"):
        _sensor(far).execute(_context())
    with sqlite3.connect(Outbox().path) as conn:
        rows = conn.execute("SELECT kind, severity, dag_id, summary FROM incidents").fetchall()
    assert [(kind, sev, dag) for kind, sev, dag, _ in rows] == [("market_calendar", "critical", "auto_trader")]
    assert "horizon limit" in rows[0][3]
