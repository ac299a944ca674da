"""The day replay on the shipped configuration: no false pages, trades only in session, closed cycles end fast."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

NY = ZoneInfo("America/New_York")
GATED = ("auto_trader", "auto_trader_core", "portfolio_master")


def _replay(day: date, **kwargs: object):
    from local_stack.replay import replay_day

    return replay_day(day, **kwargs)


@pytest.mark.parametrize(
    ("day", "traded", "skip_reasons"),
    [
        pytest.param(date(2026, 12, 3), {"auto_trader": 13, "auto_trader_core": 6},
                     {"before the open", "after the close"}, id="regular-thursday"),
        pytest.param(date(2026, 11, 27), {"auto_trader": 7, "auto_trader_core": 3},
                     {"before the open", "after the early close at 13:00"}, id="early-close-1300"),
        pytest.param(date(2026, 12, 25), {}, {"exchange holiday"}, id="christmas-holiday"),
        pytest.param(date(2027, 3, 15), {"auto_trader": 13, "auto_trader_core": 6},
                     {"before the open", "after the close"}, id="first-weekday-of-dst"),
        pytest.param(date(2026, 12, 5), {}, set(), id="saturday"),
    ],
)
def test_a_healthy_day_pages_nobody(pmx_home: Path, day: date, traded: dict[str, int],
                                    skip_reasons: set[str]) -> None:
    from portfolio.calendar import market_status

    cycles = _replay(day)
    assert [(c.dag_id, c.run_id, i.summary) for c in cycles for i in c.incidents] == []
    ran = {}
    for c in cycles:
        if c.traded_at is not None:
            status = market_status(c.traded_at)
            assert status.is_open and c.ended_at <= status.closes_at, (c.dag_id, c.traded_at)  # inside the session
            ran[c.dag_id] = ran.get(c.dag_id, 0) + 1
    assert {k: v for k, v in ran.items() if k != "portfolio_master"} == traded
    skipped = [c for c in cycles if c.outcome == "skipped"]
    for c in skipped:
        assert c.gate_held_s == 0, (c.dag_id, c.why)  # decided at the first poke
        if c.dag_id != "portfolio_master":
            assert c.duration_s < 30, (c.dag_id, c.duration_s)  # a closed cycle ends within seconds
    assert {r for c in skipped for r in skip_reasons if c.why.startswith(r)} == skip_reasons
    assert all(any(c.why.startswith(r) for r in skip_reasons) for c in skipped)


def test_the_dst_monday_opens_at_1330_utc(pmx_home: Path) -> None:
    first = next(c for c in _replay(date(2027, 3, 15)) if c.dag_id == "auto_trader" and c.traded_at)
    assert first.traded_at.astimezone(UTC).strftime("%H:%M") == "13:30"
    assert first.traded_at.astimezone(NY).strftime("%H:%M") == "09:30"


def test_a_cycle_that_really_runs_long_still_pages(pmx_home: Path) -> None:
    cycles = _replay(date(2026, 12, 3), slow={"auto_trader": 400})
    paged = [c for c in cycles if c.incidents]
    assert paged and all(c.dag_id == "auto_trader" and c.outcome == "ran" for c in paged)
    assert len(paged) == 13
    assert {(i.severity, i.details["sla"]) for c in paged for i in c.incidents} == {("critical", "auto_trader_cycle")}


def test_a_near_open_is_waited_for_within_the_budget(pmx_home: Path) -> None:
    from local_stack.replay import run_gate

    decision, passed = run_gate(datetime(2026, 12, 3, 9, 29, tzinfo=NY))
    assert (decision.action, passed.astimezone(NY).strftime("%H:%M:%S")) == ("trade", "09:30:00")
    decision, passed = run_gate(datetime(2026, 12, 3, 9, 28, 30, tzinfo=NY))
    assert decision.action == "skip" and passed == datetime(2026, 12, 3, 9, 28, 30, tzinfo=NY)


def test_the_original_semantics_paged_on_every_closed_cycle(pmx_home: Path) -> None:
    """The gate before the fix (wait until Airflow's 300 s timeout, poke every 60 s) replayed on the same day."""
    from local_stack.replay import replay_day
    from orchestration.sensors import GateDecision

    def waits_while_closed(status, waited, max_wait):  # type: ignore[no-untyped-def]
        if status.is_open:
            return GateDecision("trade", "open", "open", 0.0)
        return GateDecision("wait", status.reason, "closed", 1e9)

    cycles = replay_day(date(2026, 12, 3), decide=waits_while_closed, timeout=300)
    paged = [c for c in cycles if c.incidents]
    assert len(paged) == 17  # 15 scheduled closed cycles + the 2 asset-triggered runs after the ETLs
    assert all(c.dag_id == "auto_trader" and c.outcome == "skipped" and c.gate_held_s == 360 for c in paged)


def test_every_sla_deadline_comes_from_the_shipped_deadline_alerts(pmx_home: Path) -> None:
    from alerts.sla_config import load_sla_config
    from local_stack.replay import HEALTHY_WORK, sla_deadlines

    cycles = _replay(date(2026, 12, 7))  # a Monday: the weekly DAGs run too
    seen = {a.callback.kwargs["sla"] for c in cycles for a, _ in sla_deadlines(c, HEALTHY_WORK[c.dag_id])}
    weekly_or_monthly = {"transaction_costs_done"}  # the 1st of the month only
    assert seen == {s.name for s in load_sla_config().slas} - weekly_or_monthly
    etl = next(c for c in cycles if c.dag_id == "daily_etl")
    ((_, deadline),) = sla_deadlines(etl, HEALTHY_WORK["daily_etl"])
    assert deadline.astimezone(NY) == datetime(2026, 12, 7, 6, 0, tzinfo=NY)


def test_the_command_prints_the_table(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from local_stack.replay import main

    assert main(["2026-12-25", "--dag", "auto_trader"]) == 0
    out = capsys.readouterr().out
    assert "=== replay 2026-12-25 (Friday; holiday) ===" in out
    assert out.count("exchange holiday") == 28 + 2  # 28 scheduled cycles + 2 asset-triggered runs
    assert "SLA incidents: 0" in out
    assert main(["2026-12-03", "--dag", "auto_trader", "--slow", "auto_trader=400"]) == 1
    assert "!! critical sla_miss auto_trader_cycle" in capsys.readouterr().out

