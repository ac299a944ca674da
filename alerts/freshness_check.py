"""Check the freshness SLAs against Airflow's Asset events: gauges, ``freshness_miss`` and ``freshness_recovered``.

The outbox worker calls :func:`run_freshness_check` from its periodic check (``alerts/outbox_worker.py``); the
latest event per asset comes from Airflow's metadata database (:class:`AirflowAssets`, the ``asset_event`` and
``asset`` tables); tests pass any object with the same method. ``python -m alerts.freshness_check [--at ISO ...]``
runs one check now, or one at each instant given (in order: a replay of a window), against the stack's database
and outbox (an event after the instant does not exist yet for that check), and prints one JSON line per freshness
SLA and check.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from alerts.freshness import MISS, Verdict, judge, miss_incident, recovered_incident
from alerts.incident import Incident, utc_now
from alerts.times import as_datetime, iso_z
from foundation.failures import report_failure

if TYPE_CHECKING:
    from alerts.freshness_config import FreshnessConfig, FreshnessSpec
    from alerts.outbox import Outbox
    from alerts.trading_time import SessionPredicate


class AssetEventSource(Protocol):
    """Where the latest event time of each asset comes from."""

    def latest_events(self, keys: Iterable[str], until: datetime) -> dict[str, datetime]:
        """Asset name or URI -> time of its latest event at or before ``until`` (assets without one: absent)."""


class AirflowAssets:
    """Reads ``AssetEvent`` / ``AssetModel`` rows through Airflow's ORM (the worker runs with the stack's settings)."""

    def latest_events(self, keys: Iterable[str], until: datetime) -> dict[str, datetime]:
        """Latest event per asset, keyed by both its name and its URI when asked for either."""
        wanted = set(keys)
        if not wanted:
            return {}
        from airflow.models.asset import AssetEvent, AssetModel
        from airflow.utils.session import create_session
        from sqlalchemy import func, or_, select

        with create_session() as session:
            rows = session.execute(
                select(AssetModel.name, AssetModel.uri, func.max(AssetEvent.timestamp))
                .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
                .where(or_(AssetModel.name.in_(wanted), AssetModel.uri.in_(wanted)), AssetEvent.timestamp <= until)
                .group_by(AssetModel.id, AssetModel.name, AssetModel.uri)
            ).all()
        out: dict[str, datetime] = {}
        for name, uri, latest in rows:
            at = as_datetime(latest)
            if at is None:
                continue
            for key in (name, uri):
                if key in wanted and (key not in out or at > out[key]):
                    out[key] = at
        return out


def load_freshness(config_dir: Path | None = None) -> FreshnessConfig:
    """The freshness SLAs of ``config/slas.yml`` with their calendars checked (each built once per process)."""
    from alerts.freshness_config import check_calendars
    from alerts.sla_config import load_sla_config

    return check_calendars(load_sla_config(config_dir).freshness)


def _predicate(spec: FreshnessSpec) -> SessionPredicate | None:
    from alerts.trading_time import session_predicate

    return session_predicate(str(spec.calendar)) if spec.uses_calendar else None


def _metrics() -> Any:
    from foundation.metrics import get_client

    return get_client()


def _resolve_open(outbox: Outbox, misses: list[dict[str, Any]], verdict: Verdict) -> int:
    """Close the open misses of one SLA whose asset has an event newer than the one they judged."""
    resolved = 0
    for row in misses:
        miss = Incident.from_json(row["payload"])
        judged = as_datetime(miss.details.get("last_event"))
        if verdict.last_event is None or (judged is not None and verdict.last_event <= judged):
            continue
        recovery = recovered_incident(miss, verdict)
        recovery_id = outbox.resolve_incident(row["id"], recovery, float(recovery.details["late_seconds"]))
        if recovery_id is not None:
            resolved += 1
            from alerts.router import submit_effects

            submit_effects(recovery, recovery_id, True)
    return resolved


def check_freshness(specs: Iterable[FreshnessSpec], outbox: Outbox, source: AssetEventSource, runbook_base: str,
                    now: datetime | None = None) -> list[Verdict]:
    """Judge every freshness SLA at ``now``: publish its age, submit a miss once per due instant, resolve misses
    a newer event has answered. One SLA's failure is counted and the others are still checked."""
    from alerts.router import submit

    specs = list(specs)
    if not specs:
        return []
    now = now or utc_now()
    keys = {s.asset for s in specs} | {s.newer_than for s in specs if s.newer_than}
    events: dict[str, datetime | None] = dict(source.latest_events(keys, now))
    open_misses: dict[str, list[dict[str, Any]]] = {}
    for row in outbox.open_incidents(MISS):
        open_misses.setdefault(row["sla"], []).append(row)
    verdicts = []
    for spec in specs:
        try:
            verdict = judge(spec, events, now, _predicate(spec))
            verdicts.append(verdict)
            if verdict.age_seconds is not None:
                _metrics().gauge("freshness.age_seconds", round(verdict.age_seconds, 3),
                                 tags={"sla": spec.name, "asset": spec.asset})
            _resolve_open(outbox, open_misses.get(spec.name, []), verdict)
            if verdict.state == "stale" and outbox.find(MISS, verdict.dedup_key) is None:
                submit(miss_incident(spec, verdict, runbook_base))
        except Exception as exc:
            report_failure("alerts", "freshness_check", exc, level="error", sla=spec.name)
    return verdicts


def run_freshness_check(outbox: Outbox, source: AssetEventSource | None = None,
                        now: datetime | None = None) -> list[Verdict]:
    """One check of the configured freshness SLAs (the outbox worker's periodic call)."""
    from alerts.sla_config import runbook_base

    specs = load_freshness().specs
    if not specs:
        return []
    return check_freshness(specs, outbox, source or AirflowAssets(), runbook_base(), now)


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """A verdict as a JSON-ready dict (times as UTC ISO-8601)."""
    return {"sla": verdict.sla, "asset": verdict.asset, "state": verdict.state, "now": iso_z(verdict.now),
            "last_event": iso_z(verdict.last_event), "age_seconds": verdict.age_seconds,
            "due_at": iso_z(verdict.due_at), "dedup_key": verdict.dedup_key if verdict.state == "stale" else None,
            "reason": verdict.reason, "reference": verdict.reference,
            "reference_event": iso_z(verdict.reference_event)}


def _instant(text: str) -> datetime:
    try:
        at = as_datetime(text)
    except ValueError:
        at = None
    if at is None:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 instant: {text!r}")
    return at


def main(argv: list[str] | None = None, source: AssetEventSource | None = None) -> int:
    """Command line entrypoint: one check at each ``--at`` (ISO-8601), in the order given, or one now; one JSON
    line per freshness SLA and check (its ``now`` says which)."""
    import os

    from alerts.outbox import Outbox

    parser = argparse.ArgumentParser(prog="alerts.freshness_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--at", action="append", default=[], type=_instant,
                        help="an instant to check at (ISO-8601; naive = UTC); repeat it to replay several "
                             "instants in order; default: now")
    args = parser.parse_args(argv)
    os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")
    instants: list[datetime] = args.at or [datetime.now(UTC)]
    outbox = Outbox()
    for now in instants:
        for verdict in run_freshness_check(outbox, source, now=now):
            print(json.dumps(verdict_json(verdict)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
