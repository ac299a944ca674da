"""Error monitor: what failed, where and how often, from the JSON event log, plus the live threshold state.

History (``--hours`` back from now, or ``--since`` a date/time, UTC): task outcomes per DAG and per task,
failures per error type, import errors per file, listener failures, and the alerts raised in the period.
State: the error monitor's sliding-window counts, failure streaks and alerts (open ones first), as shared by
every Airflow process through ``error_monitor.state_path`` of ``config/observability.yml`` (or, with
``backend: postgresql``, the database of ``error_monitor.dsn`` / ``PMX_ERROR_MONITOR_DSN``).

Examples:
  python scripts/error_monitor.py                      # last 24 hours
  python scripts/error_monitor.py --hours 2 --dag-id daily_etl
  python scripts/error_monitor.py --since 2026-03-01
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scripts.entrypoint import cli_main, make_parser

NAME = "error_monitor"
PROBLEM_LEVELS = frozenset({"warning", "error", "critical"})


def parse_since(text: str) -> datetime:
    """``YYYY-MM-DD`` or an ISO-8601 date-time (naive means UTC) as an aware UTC datetime."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid --since {text!r}: expected YYYY-MM-DD or an ISO date-time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def positive(text: str) -> float:
    """A number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    period = parser.add_mutually_exclusive_group()
    period.add_argument("--hours", type=positive, help="look back this many hours (default 24)")
    period.add_argument("--since", type=parse_since,
                        help="start of the period (YYYY-MM-DD or ISO date-time, UTC)")
    parser.add_argument("--dag-id", help="only this DAG")
    parser.add_argument("--top", type=lambda t: int(positive(t)), default=20,
                        help="show at most this many tasks and alerts (default 20)")
    parser.add_argument("--log-dir", type=Path, help="pipeline log directory (default: the configured one)")
    return parser


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def period_events(log_dir: Path, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Events of every stream within the period (the ``errors`` copies of other streams skipped)."""
    from foundation.pipeline_logger import STREAMS, read_events

    low, high = _iso(since), _iso(until)
    out = []
    for stream in STREAMS:
        for record in read_events(log_dir, stream):
            if stream == "errors" and record.get("stream", "errors") != "errors":
                continue
            if low <= str(record.get("ts", "")) <= high:
                out.append(record)
    return sorted(out, key=lambda r: str(r.get("ts")))


def history(events: list[dict[str, Any]], dag_id: str | None, top: int) -> dict[str, Any]:
    """Counts per DAG, task, error type and import file; listener failures; alerts of the period."""
    by_dag: dict[str, Counter[str]] = defaultdict(Counter)
    by_task: dict[str, Counter[str]] = defaultdict(Counter)
    by_error: Counter[str] = Counter()
    imports: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    alerts = []
    for e in events:
        event, dag = str(e.get("event", "")), e.get("dag_id")
        if dag_id and dag != dag_id and event != "observability_failure":
            continue
        if e.get("component") == "listener" and event.startswith("task_") and event != "task_running":
            by_dag[str(dag)][e.get("state") or event[5:]] += 1
            by_task[f"{dag}.{e.get('task_id')}"][e.get("state") or event[5:]] += 1
        elif e.get("component") == "listener" and event in ("dag_run_success", "dag_run_failed"):
            by_dag[str(dag)][f"runs_{event[8:]}"] += 1
        elif event == "dag_import_error":
            imports[str(e.get("filename"))] += 1
        elif event == "observability_failure":
            failures[f"{e.get('component_failed') or e.get('component')}:{e.get('reason')}"] += 1
        elif event == "alert" and e.get("component") == "listener":
            keys = ("ts", "rule", "key", "status", "severity", "summary", "routed")
            alerts.append({k: e.get(k) for k in keys})
        if e.get("error_type") and e.get("level") in PROBLEM_LEVELS:
            by_error[str(e["error_type"])] += 1
    failing = sorted(by_task.items(), key=lambda kv: (-(kv[1]["failed"] + kv[1]["up_for_retry"]), kv[0]))
    return {
        "events": len(events),
        "by_dag": {k: dict(v) for k, v in sorted(by_dag.items())},
        "by_task": {k: dict(v) for k, v in failing[:top] if v["failed"] or v["up_for_retry"]},
        "by_error_type": dict(by_error.most_common()),
        "import_errors": dict(imports.most_common(top)),
        "observability_failures": dict(failures.most_common()),
        "alerts": alerts[-top:],
    }


def threshold_state(dag_id: str | None, top: int) -> dict[str, Any]:
    """The error monitor's live windows, streaks and alerts (optionally for one DAG)."""
    from listeners.config import load_observability
    from listeners.error_monitor import ThresholdStore

    store = ThresholdStore(load_observability().error_monitor)
    try:
        snap = store.snapshot()
    finally:
        store.close()
    if dag_id:
        snap["windows"] = [w for w in snap["windows"] if w["key"] == dag_id]
        snap["streaks"] = [s for s in snap["streaks"] if s["dag_id"] == dag_id]
        snap["alerts"] = [a for a in snap["alerts"] if a["key"] == dag_id]
    snap["alerts"] = snap["alerts"][:top]
    snap["open_alerts"] = sum(1 for a in snap["alerts"] if a["open"])
    return snap


def run(*, hours: float | None = None, since: datetime | str | None = None, dag_id: str | None = None,
        top: int = 20, log_dir: Path | str | None = None) -> dict[str, Any]:
    """Analyse the event history of the period and report the current threshold state."""
    from foundation.pipeline_logger import get_logger
    from portfolio.params import ParameterError

    if hours is not None and since is not None:
        raise ParameterError("give either hours or since, not both")
    if hours is not None and not (hours > 0 and math.isfinite(hours)):
        raise ParameterError(f"hours={hours}: must be > 0")
    until = datetime.now(UTC)
    try:
        start = parse_since(since) if isinstance(since, str) else since
    except argparse.ArgumentTypeError as exc:
        raise ParameterError(str(exc)) from None
    if start is None:
        start = until - timedelta(hours=hours or 24)
    directory = Path(log_dir) if log_dir else get_logger().log_dir
    events = period_events(directory, start, until)
    return {"period": {"since": _iso(start), "until": _iso(until)}, "log_dir": str(directory),
            "dag_id": dag_id, "history": history(events, dag_id, top), "state": threshold_state(dag_id, top)}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 with the JSON summary, 2 on bad arguments or config, 1 on failure."""
    return cli_main(NAME, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
