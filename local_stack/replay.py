"""Day replay: every scheduled cycle of one or more exchange days, in live mode, on a pinned clock.

``python -m local_stack.replay 2026-12-03 [2026-11-27 ...]`` (or ``make replay DAY=2026-12-03``) replays the
shipped configuration: the schedules of ``config/orchestration.yml`` (through Airflow's own cron timetable), the
``market_hours`` settings, and the SLAs of ``config/slas.yml`` (the Deadline Alerts that
:func:`alerts.deadlines.deadlines_for_dag` attaches to each DAG). For each cycle it prints the scheduled time,
the outcome (ran, or skipped and why), how long the market gate held it and the SLA incidents that would be
raised. Nothing waits on the wall clock: each poke of the market gate is :func:`orchestration.sensors.
gate_decision` on :func:`portfolio.calendar.market_status` at the pinned instant of that poke, in the same
reschedule loop as Airflow's sensor (poke, reschedule, time out after a failed poke).

What the replay cannot know, the run time of the work itself, comes from :data:`HEALTHY_WORK` (a healthy run,
generous against the numbers measured on this machine); ``--slow DAG=SECONDS`` makes one DAG's runs slow.
The asset-triggered auto_trader runs that follow each ETL (daily_etl, and the master's ETL) are replayed too.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from alerts.incident import Incident
    from orchestration.sensors import GateDecision
    from portfolio.calendar import MarketStatus

QUEUE_DELAY_S = 2.0      # scheduled time -> run queued
START_DELAY_S = 2.0      # run queued -> first task starts (median queue-to-start measured here: 2.6 s per task)
SKIP_TAIL_S = 3.0        # a skipped gate -> the run has skipped its downstream tasks and ended


@dataclass(frozen=True)
class Work:
    """Seconds a healthy run works: before the market gate (None: the DAG has no gate) and after it."""

    before_gate: float | None
    after: float


HEALTHY_WORK: dict[str, Work] = {
    "daily_etl": Work(None, 420),            # 8 tickers, live: network fetches (synthetic 50 tickers: ~10 s)
    "auto_trader": Work(4, 60),              # trading_allowed, then trade -> failed_tickers -> snapshot
    "auto_trader_core": Work(6, 60),         # + the core trade budget
    "monitoring": Work(None, 150),
    "env_sanity": Work(None, 30),
    "nightly_backfill": Work(None, 300),
    "ts_threshold_sweep": Work(None, 1200),
    "transaction_costs": Work(None, 300),
    "weekly_sleeve_maintenance": Work(None, 1200),
    "synthetic_refresh": Work(None, 600),
    "sanitize_caches": Work(None, 60),
    "portfolio_master": Work(450, 60),       # env_sanity + the ETL, then the trading group
}
ASSET_FOLLOWERS = {"daily_etl": "auto_trader", "portfolio_master": "auto_trader"}  # ETL load -> portfolio_ohlcv


@dataclass
class Cycle:
    """One replayed DAG run."""

    dag_id: str
    run_type: str                       # scheduled | asset_triggered
    logical_date: datetime | None       # the schedule slot (UTC); None for asset-triggered runs
    queued_at: datetime
    outcome: str = "ran"                # ran | skipped
    reason: str = ""                    # why skipped (the sensor's message)
    why: str = ""                       # the short form of ``reason``
    gate: str = ""                      # the calendar's reason at the last poke ("" when the DAG has no gate)
    gate_held_s: float = 0.0
    traded_at: datetime | None = None
    ended_at: datetime | None = None
    incidents: list[Incident] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        """The run id Airflow would give this run."""
        anchor = self.logical_date or self.queued_at
        return f"{self.run_type}__{anchor.isoformat()}"

    @property
    def duration_s(self) -> float:
        """Queued to end, seconds."""
        return ((self.ended_at or self.queued_at) - self.queued_at).total_seconds()


Decide = Callable[["MarketStatus", float, float], "GateDecision"]


def _timezone() -> ZoneInfo:
    from orchestration.config import load_orchestration

    return ZoneInfo(load_orchestration().timezone)


def scheduled_slots(day: date) -> list[tuple[str, datetime]]:
    """(dag_id, scheduled UTC instant) of every cron slot on ``day`` (New York), by Airflow's timetable."""
    import pendulum
    from airflow.timetables.base import DataInterval, TimeRestriction
    from airflow.timetables.trigger import CronTriggerTimetable

    from orchestration.config import load_orchestration

    cfg = load_orchestration()
    tz = ZoneInfo(cfg.timezone)
    start = pendulum.instance(datetime.combine(day, time(0), tz).astimezone(UTC))
    end = pendulum.instance(datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)) \
        - timedelta(microseconds=1)
    slots: list[tuple[str, datetime]] = []
    for dag_id, spec in cfg.dags.items():
        timetable = CronTriggerTimetable(spec.schedule, timezone=cfg.timezone)
        restriction = TimeRestriction(earliest=start, latest=end, catchup=True)
        last: DataInterval | None = None
        while (info := timetable.next_dagrun_info(last_automated_data_interval=last,
                                                  restriction=restriction)) is not None:
            slots.append((dag_id, datetime.fromtimestamp(info.run_after.timestamp(), UTC)))
            last = info.data_interval
    return sorted(slots, key=lambda s: (s[1], s[0]))


def run_gate(start: datetime, decide: Decide | None = None,
             timeout: float | None = None) -> tuple[GateDecision, datetime]:
    """Poke the market gate from ``start`` on the pinned clock until it trades or skips: (decision, when).

    ``decide`` (default: the sensor's :func:`~orchestration.sensors.gate_decision`) and ``timeout`` (default:
    the sensor's backstop, ``max_wait + poke_interval``) let another gate model be replayed against it.
    """
    from orchestration.config import load_orchestration
    from orchestration.sensors import gate_decision
    from portfolio.calendar import market_status

    hours = load_orchestration().market_hours
    decide = decide or gate_decision
    if timeout is None:
        timeout = hours.max_wait_seconds + hours.poke_interval_seconds  # MarketHoursSensor's default backstop
    waited = 0.0
    while True:
        decision = decide(market_status(start + timedelta(seconds=waited), name=hours.calendar), waited,
                          hours.max_wait_seconds)
        if decision.action != "wait":
            return decision, start + timedelta(seconds=waited)
        if waited > timeout:  # Airflow's own check after a failed poke (soft_fail: skip)
            from orchestration.sensors import GateDecision

            message = f"sensor timed out after {waited:.0f}s (timeout {timeout:.0f}s)"
            return GateDecision("skip", decision.reason, message, decision.seconds_to_open,
                                f"{decision.reason}: timed out after {waited:.0f}s"), start + timedelta(seconds=waited)
        waited += min(hours.poke_interval_seconds, max(1.0, decision.seconds_to_open))


def _play(cycle: Cycle, work: Work, decide: Decide | None, timeout: float | None) -> None:
    started = cycle.queued_at + timedelta(seconds=START_DELAY_S)
    if work.before_gate is None:
        cycle.ended_at = started + timedelta(seconds=work.after)
        return
    gate_start = started + timedelta(seconds=work.before_gate)
    decision, passed = run_gate(gate_start, decide, timeout)
    cycle.gate, cycle.gate_held_s = decision.reason, (passed - gate_start).total_seconds()
    if decision.action == "trade":
        cycle.traded_at = passed
        cycle.ended_at = passed + timedelta(seconds=work.after)
    else:
        cycle.outcome, cycle.reason, cycle.why = "skipped", decision.message, decision.why or decision.message
        cycle.ended_at = passed + timedelta(seconds=SKIP_TAIL_S)


def sla_deadlines(cycle: Cycle, work: Work) -> list[tuple[Any, datetime]]:
    """(Deadline Alert, deadline instant) of every SLA alert of ``config/slas.yml`` that applies to the run."""
    from airflow.sdk.definitions.deadline import AverageRuntimeDeadline, DagRunLogicalDateDeadline

    from alerts.deadlines import applies, deadlines_for_dag
    from alerts.references import RunQueuedAt

    out = []
    for alert in deadlines_for_dag(cycle.dag_id) or []:
        if not applies(str(alert.callback.kwargs["variant"]), cycle.run_type):
            continue
        ref = alert.reference
        if isinstance(ref, RunQueuedAt):
            base = cycle.queued_at
        elif isinstance(ref, DagRunLogicalDateDeadline):
            if cycle.logical_date is None:
                continue  # Airflow skips logical-date deadlines of runs without one
            base = cycle.logical_date
        elif isinstance(ref, AverageRuntimeDeadline):  # history: healthy runs of this DAG
            base = cycle.queued_at + timedelta(seconds=START_DELAY_S + (work.before_gate or 0) + work.after)
        else:
            raise TypeError(f"{cycle.dag_id}: deadline reference {type(ref).__name__} is not replayed")
        out.append((alert, base + alert.interval))
    return out


def _incidents(cycle: Cycle, work: Work) -> list[Incident]:
    from alerts.deadlines import build_miss_incident

    out = []
    for alert, deadline in sla_deadlines(cycle, work):
        if cycle.ended_at is not None and cycle.ended_at <= deadline:
            continue
        context = {"dag_run": {"dag_id": cycle.dag_id, "dag_run_id": cycle.run_id, "run_type": cycle.run_type,
                               "logical_date": cycle.logical_date.isoformat() if cycle.logical_date else None,
                               "queued_at": cycle.queued_at.isoformat(), "state": "running"},
                   "deadline": {"deadline_time": deadline.isoformat()}}
        out.append(build_miss_incident(context, dict(alert.callback.kwargs), "http://127.0.0.1:8080",
                                       "http://127.0.0.1:8080/pmx-sla/runbook"))
    return out


def replay_day(day: date, *, slow: dict[str, float] | None = None, decide: Decide | None = None,
               timeout: float | None = None) -> list[Cycle]:
    """Every cycle of ``day`` (New York), played in live mode on the pinned clock; scheduled and asset runs."""
    slow = slow or {}

    def work_of(dag_id: str) -> Work:
        base = HEALTHY_WORK[dag_id]
        return Work(base.before_gate, slow[dag_id]) if dag_id in slow else base

    cycles: list[Cycle] = []
    pending: list[tuple[str, str, datetime | None, datetime]] = [
        (dag_id, "scheduled", at, at) for dag_id, at in scheduled_slots(day)]
    while pending:
        dag_id, run_type, logical, when = pending.pop(0)
        cycle = Cycle(dag_id, run_type, logical if run_type == "scheduled" else None,
                      when + timedelta(seconds=QUEUE_DELAY_S))
        work = work_of(dag_id)
        _play(cycle, work, decide, timeout)
        cycle.incidents = _incidents(cycle, work)
        cycles.append(cycle)
        follower = ASSET_FOLLOWERS.get(dag_id)
        if follower:  # the ETL's load updates portfolio_ohlcv: auto_trader also runs on the asset
            loaded = cycle.queued_at + timedelta(seconds=START_DELAY_S + (work.before_gate or work.after))
            pending.append((follower, "asset_triggered", None, loaded))
            pending.sort(key=lambda p: p[3])
    return sorted(cycles, key=lambda c: (c.queued_at, c.dag_id))


def _routes(incident: Incident) -> str:
    try:
        from alerts.alerting_config import load_alerting
        from alerts.router import route

        return ", ".join(name for name, _ in route(incident, load_alerting())) or "no channel"
    except Exception as exc:  # the table still prints
        return f"routing unknown ({type(exc).__name__})"


def format_day(day: date, cycles: list[Cycle]) -> str:
    """The replay table of one day."""
    from portfolio.calendar import market_status

    tz = _timezone()
    noon = market_status(datetime.combine(day, time(12), tz))
    kind = (f"session, closes {noon.closes_at.astimezone(tz):%H:%M}" if noon.session and noon.closes_at
            else noon.reason)
    lines = [f"=== replay {day.isoformat()} ({day:%A}; {kind}) ===",
             f"{'time NY':8} {'dag':26} {'run':9} {'outcome':8} {'gate held':>9} {'took':>7}  why / SLA incidents"]
    for c in cycles:
        at = (c.logical_date or c.queued_at).astimezone(tz)
        why = c.why if c.outcome == "skipped" else (
            f"traded {c.traded_at.astimezone(tz):%H:%M:%S}" if c.traded_at else "")
        lines.append(f"{at:%H:%M:%S} {c.dag_id:26} {c.run_type[:9]:9} {c.outcome:8} {c.gate_held_s:>8.0f}s "
                     f"{c.duration_s:>6.0f}s  {why}")
        for inc in c.incidents:
            lines.append(f"{'':8} !! {inc.severity} sla_miss {inc.details.get('sla')} -> {_routes(inc)}: "
                         f"deadline {inc.details.get('deadline')}")
    ran = sum(c.outcome == "ran" for c in cycles if c.gate)
    skipped = sum(c.outcome == "skipped" for c in cycles)
    incidents = [i for c in cycles for i in c.incidents]
    pages = sum(1 for i in incidents if "pagerduty" in _routes(i))
    lines.append(f"--- {len(cycles)} runs; gated: {ran} traded, {skipped} skipped; "
                 f"SLA incidents: {len(incidents)} (PagerDuty pages: {pages})")
    return "\n".join(lines)


def _slow(values: Iterable[str]) -> dict[str, float]:
    out = {}
    for value in values:
        dag_id, _, seconds = value.partition("=")
        if dag_id not in HEALTHY_WORK or not seconds:
            raise SystemExit(f"--slow {value!r}: expected DAG=SECONDS with DAG one of {', '.join(HEALTHY_WORK)}")
        out[dag_id] = float(seconds)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m local_stack.replay DAY [DAY ...] [--dag D] [--slow DAG=SECONDS]``."""
    parser = argparse.ArgumentParser(prog="python -m local_stack.replay", description=__doc__.split("\n")[0])
    parser.add_argument("days", nargs="+", type=date.fromisoformat, help="exchange days (YYYY-MM-DD, New York)")
    parser.add_argument("--dag", action="append", help="only these DAGs (repeatable)")
    parser.add_argument("--slow", action="append", default=[], help="DAG=SECONDS of work after the gate")
    args = parser.parse_args(argv)
    from foundation.paths import REPO_ROOT

    os.environ.setdefault("AIRFLOW_HOME", str(REPO_ROOT / ".airflow"))  # never the user's ~/airflow
    total = 0
    for day in args.days:
        cycles = [c for c in replay_day(day, slow=_slow(args.slow)) if not args.dag or c.dag_id in args.dag]
        total += sum(len(c.incidents) for c in cycles)
        print(format_day(day, cycles))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
