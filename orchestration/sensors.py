"""MarketHoursSensor: lets a trading cycle through while the exchange (calendar XNYS) is in a regular session.

A cycle decides at its first poke (:func:`gate_decision`): open -> trade; closed and the next open is further
away than the cycle's wait budget (``market_hours.max_wait_seconds``) -> skip at once, saying why (weekend,
holiday, before the open, after the close, after an early close); closed but the open is within the budget
(the 09:30 cycle queued at 09:29) -> wait for exactly that open, never past the budget. So a closed-market
cycle ends in seconds and cannot outlive its SLA.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowRescheduleException, AirflowSkipException

if TYPE_CHECKING:
    from airflow.sdk import Context

    from portfolio.calendar import MarketStatus

CLOCK_CONF_KEY = "market_clock_at"  # dag_run.conf key that pins the sensor's instant (ISO-8601)
PINNED_AT = "{{ (dag_run.conf or {}).get('" + CLOCK_CONF_KEY + "', '') }}"
WHY_CLOSED = {
    "weekend": "weekend",
    "holiday": "exchange holiday",
    "pre-market": "before the open",
    "after-hours": "after the close",
    "early-close": "after the early close",
}


def pinned_instant(value: object) -> datetime | None:
    """The instant a run pins its clock to (ISO-8601, naive = UTC), or None for the wall clock."""
    raw = str(value or "").strip()
    if not raw:
        return None
    instant = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


class MarketCalendarUnavailable(RuntimeError):
    """The exchange calendar cannot answer for the instant (past its horizon limit): the cycle fails."""


@dataclass(frozen=True)
class GateDecision:
    """What the market gate does with a cycle at one poke."""

    action: Literal["trade", "wait", "skip"]
    reason: str               # the calendar's reason: open, weekend, holiday, pre-market, after-hours, early-close
    message: str
    seconds_to_open: float    # 0 when open
    why: str = ""             # short form for tables: "before the open; next open 09:30 EST"


def gate_decision(status: MarketStatus, waited_seconds: float, max_wait_seconds: float) -> GateDecision:
    """Trade when open; wait only when the next open is reachable within what is left of the wait budget."""
    local = status.local_time
    if status.is_open:
        return GateDecision("trade", "open", f"market open at {local:%Y-%m-%d %H:%M %Z}", 0.0)
    to_open = max(0.0, (status.next_open - status.at).total_seconds())
    why = WHY_CLOSED.get(status.reason, status.reason)
    if status.reason == "early-close" and status.closes_at is not None:
        why = f"after the early close at {status.closes_at.astimezone(local.tzinfo):%H:%M}"
    next_open = status.next_open.astimezone(local.tzinfo)
    short = f"{why}; next open {next_open:%a %H:%M %Z}"
    if waited_seconds + to_open <= max_wait_seconds:
        return GateDecision("wait", status.reason,
                            f"market closed ({why}) at {local:%Y-%m-%d %H:%M:%S %Z}; waiting {to_open:.0f}s "
                            f"for the open at {next_open:%H:%M %Z}", to_open, short)
    return GateDecision("skip", status.reason,
                        f"market closed ({why}) at {local:%Y-%m-%d %H:%M %Z}; next open "
                        f"{next_open:%Y-%m-%d %H:%M %Z} is beyond the {max_wait_seconds:.0f}s wait budget: "
                        "cycle skipped", to_open, short)


def _report_calendar_failure(context: Context, calendar: str, instant: datetime, error: Exception) -> None:
    """One ``market_calendar`` incident through the router (never raises)."""
    try:
        from alerts.incident import Incident
        from alerts.router import submit

        run = context.get("dag_run")
        dag_id = getattr(run, "dag_id", None)
        run_id = getattr(run, "run_id", None)
        submit(Incident(
            kind="market_calendar", severity="critical", dag_id=dag_id, run_id=run_id,
            dedup_key=f"pmx-calendar/{calendar}/{instant:%Y-%m-%d}",
            summary=f"market calendar {calendar} cannot answer for {instant:%Y-%m-%d %H:%M} UTC: {error}",
            details={"calendar": calendar, "instant": instant.isoformat(), "error": str(error)[:500]},
        ))
    except Exception:  # the failure of the cycle itself is what matters; the router counts its own failures
        pass


class MarketHoursSensor(BaseSensorOperator):
    """Gate a trading cycle on the exchange clock; holidays, early closes (13:00 ET) and DST from the calendar.

    ``max_wait_seconds`` is the longest a cycle may wait for a near open (default 60 s); a market that opens
    later skips the cycle at its first poke (``AirflowSkipException`` with the reason). ``at`` (templated,
    ISO-8601) pins the instant of the first poke; later pokes add the time waited since. It defaults to the
    DAG-run conf key ``market_clock_at`` (empty: the wall clock). ``bypass_in_synthetic_mode`` lets synthetic
    exercises trade whatever the time (``CRON_EXEC_MODE``/``portfolio.execution_mode``). A calendar that cannot
    answer (past its horizon limit) fails the task with :class:`MarketCalendarUnavailable` and an incident.
    """

    template_fields = ("at",)
    ui_color = "#d6eaf8"

    def __init__(self, *, calendar: str = "XNYS", at: str | None = PINNED_AT, max_wait_seconds: float = 60,
                 bypass_in_synthetic_mode: bool = False, mode: str = "reschedule", **kwargs: Any) -> None:
        kwargs.setdefault("timeout", max_wait_seconds + kwargs.get("poke_interval", 60))  # Airflow's backstop
        super().__init__(mode=mode, **kwargs)
        self.calendar = calendar
        self.at = at
        self.max_wait_seconds = float(max_wait_seconds)
        self.bypass_in_synthetic_mode = bypass_in_synthetic_mode
        self._first_poke: float | None = None

    def _waited(self, context: Context, now: datetime) -> float:
        """Seconds since this cycle's first poke (across reschedules)."""
        if self.reschedule:
            first = context["ti"].get_first_reschedule_date(context)
            return max(0.0, (now - first).total_seconds()) if first else 0.0
        if self._first_poke is None:
            self._first_poke = time.monotonic()
        return time.monotonic() - self._first_poke


    def poke(self, context: Context) -> PokeReturnValue | bool:
        if self.bypass_in_synthetic_mode:
            from orchestration.runtime import run_inputs

            if run_inputs(context["dag_run"].conf).params.mode == "synthetic":
                self.log.info("synthetic mode: market clock bypassed")
                return PokeReturnValue(True, {"open": True, "reason": "synthetic mode"})
        from portfolio.calendar import CalendarError, market_status

        now = datetime.now(UTC)
        waited = self._waited(context, now)
        pinned = pinned_instant(self.at)
        instant = pinned + timedelta(seconds=waited) if pinned else now
        try:
            status = market_status(instant, name=self.calendar)
        except CalendarError as exc:
            _report_calendar_failure(context, self.calendar, instant, exc)
            raise MarketCalendarUnavailable(
                f"market calendar {self.calendar} cannot decide for {instant.isoformat()}: {exc}; "
                "the cycle fails (incident raised) instead of guessing") from None
        decision = gate_decision(status, waited, self.max_wait_seconds)
        self.log.info("%s%s", decision.message, " (pinned clock)" if pinned else "")
        if decision.action == "trade":
            return PokeReturnValue(True, {"open": True, "reason": "open"})
        if decision.action == "skip":
            raise AirflowSkipException(decision.message)
        if self.reschedule:  # wake up exactly at the open (or at the next poke interval, whichever is first)
            raise AirflowRescheduleException(now + timedelta(seconds=min(self.poke_interval,
                                                                         max(1.0, decision.seconds_to_open))))
        return False
