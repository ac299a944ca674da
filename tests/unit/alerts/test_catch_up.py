"""A scheduled run created after its deadline: fresh install (not paged) vs downtime (paged, with the window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.catch_up import judge
from alerts.deadlines import handle_deadline_miss
from alerts.outbox import Outbox

DEADLINE = datetime(2026, 12, 4, 10, 35, tzinfo=UTC)  # a past slot's deadline
NOW = DEADLINE + timedelta(hours=5)


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def _run(queued: datetime, run_type: str = "scheduled") -> dict[str, Any]:
    return {"dag_id": "portfolio_master", "dag_run_id": "scheduled__2026-12-04T10:00:00+00:00",
            "run_type": run_type, "logical_date": "2026-12-04T10:00:00Z", "queued_at": queued.isoformat(),
            "state": "running"}


def _alive(first: datetime | None, last: datetime | None = None,
           outages: tuple[tuple[datetime, datetime], ...] = ()) -> dict[str, Any]:
    return {"first_seen": _ts(first) if first else None, "last_seen": _ts(last or NOW) if first else None,
            "outages": [(_ts(a), _ts(b)) for a, b in outages]}


@pytest.mark.parametrize(("run", "liveness", "verdict"), [
    (_run(DEADLINE - timedelta(hours=1)), _alive(None), "on_time_run"),  # queued in time, then ran late
    (_run(NOW, "manual"), _alive(None), "on_time_run"),
    (_run(NOW), _alive(None), "fresh_install"),  # no heartbeat ever
    (_run(NOW), _alive(NOW - timedelta(seconds=30)), "fresh_install"),  # first beat after the deadline
    (_run(NOW), _alive(DEADLINE - timedelta(days=3), NOW,
                       ((DEADLINE - timedelta(hours=2), NOW - timedelta(seconds=20)),)), "downtime"),
    (_run(NOW), _alive(DEADLINE - timedelta(days=3), DEADLINE - timedelta(hours=2)), "downtime"),  # before a beat
    (_run(NOW), _alive(DEADLINE - timedelta(days=3), NOW), "stack_was_up"),
], ids=["queued-in-time", "manual", "no-heartbeat", "first-beat-after", "recorded-outage", "back-before-a-beat",
        "stack-was-up"])
def test_verdicts(run: dict[str, Any], liveness: dict[str, Any], verdict: str) -> None:
    assert judge(run, DEADLINE, liveness, NOW, 120.0).verdict == verdict


def test_an_outage_window_is_reported() -> None:
    down = (DEADLINE - timedelta(hours=2), NOW - timedelta(seconds=20))
    result = judge(_run(NOW), DEADLINE.isoformat(), _alive(DEADLINE - timedelta(days=3), NOW, (down,)), NOW, 120.0)
    assert (result.down_from, result.down_until, result.paged) == (*down, True)


def test_beats_record_first_seen_and_gaps_as_outages(state_backend: str) -> None:
    outbox = Outbox()
    assert outbox.liveness() == {"first_seen": None, "last_seen": None, "outages": []}
    assert outbox.beat(1000.0) is None
    assert outbox.beat(1015.0, outage_after=120) is None
    assert outbox.beat(5000.0, outage_after=120) == (1015.0, 5000.0)
    assert outbox.liveness() == {"first_seen": 1000.0, "last_seen": 5000.0, "outages": [(1015.0, 5000.0)]}


def _kwargs() -> dict[str, Any]:
    return {"sla": "portfolio_master_premarket", "dag_id": "portfolio_master", "severity": "critical",
            "variant": "scheduled", "reference": "time_of_day", "budget_seconds": 19800.0, "at": "05:30",
            "timezone": "America/New_York", "channels": [], "runbook": "#m", "description": ""}


def _context(queued: datetime) -> dict[str, Any]:
    return {"dag_run": _run(queued), "deadline": {"id": "x", "deadline_time": DEADLINE}}


def test_the_catch_up_run_of_a_fresh_install_is_not_paged(pmx_home: Path) -> None:
    Outbox().beat()  # the stack's first beat: now, long after the slot's deadline
    result = handle_deadline_miss(_context(datetime.now(UTC)), _kwargs())
    assert result.startswith("not paged: fresh_install")
    with Outbox().connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 0


def test_after_downtime_the_miss_pages_once_and_says_when_the_stack_was_down(pmx_home: Path) -> None:
    outbox = Outbox()
    outbox.beat(_ts(DEADLINE - timedelta(days=2)))
    outbox.beat(_ts(DEADLINE - timedelta(hours=1)), outage_after=120)  # last beat before the stack went down
    back = datetime.now(UTC)
    outbox.beat(_ts(back), outage_after=120)
    first = handle_deadline_miss(_context(back), _kwargs())
    again = handle_deadline_miss(_context(back), _kwargs())  # a re-run callback
    assert first.startswith("recorded") and again == first
    with outbox.connect() as conn:
        rows = conn.execute("SELECT summary, payload FROM incidents").fetchall()
    assert len(rows) == 1
    assert "the stack was down from 2026-12-04T09:35:00.000000Z to " in rows[0]["summary"]
    assert "catch-up run of the missed slot" in rows[0]["summary"]
