"""Is a scheduled run's missed deadline a real miss? Fresh install vs downtime, from the stack's heartbeat.

Unpausing a DAG makes Airflow start the run of its latest past schedule (``catchup=False`` keeps exactly that
one). Its ``logical_date + budget`` deadline has often passed before the run even exists, so the miss fires
seconds later. Whether that is an incident depends on why the slot was not run in time:

* **fresh install** - the deadline passed before the stack first ran (before the first heartbeat the outbox
  worker ever wrote, or with no heartbeat at all): nobody could have run the slot. Not paged.
* **downtime** - the deadline fell while the stack was down (inside a recorded gap between heartbeats, or
  after the last beat of a stack that is only now coming back): a real miss, paged once for the run, with
  the window the stack was down.
* otherwise the stack was up at the deadline: the miss is paged as usual.

Only runs created after their deadline are judged here (a run queued in time that then runs late is a miss
whatever the heartbeat says). Pure functions: the caller passes :meth:`alerts.outbox.Outbox.liveness`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from alerts.times import as_datetime

Verdict = Literal["on_time_run", "fresh_install", "downtime", "stack_was_up"]


@dataclass(frozen=True)
class CatchUp:
    """The verdict on one miss and, for downtime, when the stack was down (UTC)."""

    verdict: Verdict
    down_from: datetime | None = None
    down_until: datetime | None = None

    @property
    def paged(self) -> bool:
        """Whether the miss goes to the channels."""
        return self.verdict != "fresh_install"


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def judge(run: dict[str, Any], deadline: Any, liveness: dict[str, Any], now: datetime,
          outage_after_seconds: float) -> CatchUp:
    """The verdict for a missed deadline of ``run`` (the callback's ``dag_run`` dict)."""
    deadline_at, queued_at = as_datetime(deadline), as_datetime(run.get("queued_at") or run.get("run_after"))
    if run.get("run_type") != "scheduled" or deadline_at is None or queued_at is None or queued_at <= deadline_at:
        return CatchUp("on_time_run")
    first_seen, last_seen = liveness.get("first_seen"), liveness.get("last_seen")
    if first_seen is None or deadline_at.timestamp() < float(first_seen):
        return CatchUp("fresh_install")
    for down_from, down_until in liveness.get("outages") or []:
        if down_from <= deadline_at.timestamp() <= down_until:
            return CatchUp("downtime", _at(down_from), _at(down_until))
    if last_seen is not None and deadline_at.timestamp() > float(last_seen) \
            and now.timestamp() - float(last_seen) > outage_after_seconds:
        # back from downtime before the worker's first beat recorded the gap: down since its last beat
        return CatchUp("downtime", _at(float(last_seen)), now)
    return CatchUp("stack_was_up")
