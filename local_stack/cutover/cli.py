"""Move the cron jobs to Airflow one at a time, and back (docs/migration.md)::

    python -m local_stack.cutover show     --crontab FILE [--json]
    python -m local_stack.cutover parity   --crontab FILE [--count 20] [--cron-tz ZONE] [--start ISO] [--json]
    python -m local_stack.cutover parallel --jobs a,b [--crontab FILE] [--unpause]
    python -m local_stack.cutover migrate  --crontab FILE --jobs a,b [--unpause] [--dry-run]
    python -m local_stack.cutover rollback --crontab FILE [--jobs a,b]      # pauses the DAGs through the API
    python -m local_stack.cutover status   [--crontab FILE] [--json]
    python -m local_stack.cutover parallel-run --job daily_etl [--tickers A,B] [--start-date D] [--end-date D]
                                               [--work-dir DIR] [--json]   # cron vs DAG.test(), outputs compared

Only the crontab file given is read or written: install a result with ``crontab FILE``. Exit status: 0 fine,
1 a parity difference not explained by DST semantics / an unmappable job / a DAG call that failed / outputs that
differ in a parallel run, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from local_stack.cutover.crontab import Crontab, CrontabError, read_crontab
from local_stack.cutover.mapping import parse_jobs
from local_stack.cutover.operations import DagSwitch, Outcome, migrate, parallel, rollback
from local_stack.cutover.parallel_run import ENTRYPOINTS, Inputs, ParallelRunError, parallel_run, report_text
from local_stack.cutover.parity import ZoneChoice, crontab_parity, unexpected
from local_stack.cutover.report import parity_json, parity_text, status_rows, status_text
from local_stack.cutover.state import CutoverState, StateError
from local_stack.cutover.timetables import load_schedules
from local_stack.cutover.zones import machine_zone
from local_stack.dag_folder import DagLoadError

PASSWORD_VARIABLE = "PMX_AIRFLOW_PASSWORD"
PARALLEL_DEFAULTS = Inputs(tickers="AAPL,MSFT", start_date="2024-01-02", end_date="2024-07-31")


def _jobs(value: str) -> list[str]:
    try:
        return parse_jobs(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO date/time (e.g. 2026-12-07T00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_stack.cutover", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument("--state", type=Path, help="state file (default $PMX_HOME/data/cutover/state.json)")
    api = argparse.ArgumentParser(add_help=False)
    api.add_argument("--api-url", help="Airflow api-server (default: the local stack of `make up`)")
    api.add_argument("--api-user", default="admin", help=f"API user; its password from ${PASSWORD_VARIABLE}, "
                                                         "else the local stack's generated passwords file")

    show = sub.add_parser("show", help="the crontab's job lines, zones, jobs and DAGs")
    show.add_argument("--crontab", type=Path, required=True)
    show.add_argument("--json", action="store_true")

    par = sub.add_parser("parity", help="compare the crontab's fire times with the DAGs' timetables")
    par.add_argument("--crontab", type=Path, required=True)
    par.add_argument("--jobs", type=_jobs, help="only these jobs (a,b or all)")
    par.add_argument("--count", type=int, default=20, help="fire times to compare from --start (default 20)")
    par.add_argument("--cron-tz", help="zone of lines without CRON_TZ=/TZ= (default: this machine's zone)")
    par.add_argument("--start", type=_instant, help="compare from this instant (default now; naive = UTC)")
    par.add_argument("--window-hours", type=float, default=48, help="half-width of the DST windows (default 48)")
    par.add_argument("--strict", action="store_true", help="fail on expected DST differences too")
    par.add_argument("--json", action="store_true")

    para = sub.add_parser("parallel", parents=[state, api], help="mark jobs as running in cron and Airflow")
    para.add_argument("--jobs", type=_jobs, required=True)
    para.add_argument("--crontab", type=Path, help="check that the jobs' lines are active in this crontab")
    para.add_argument("--unpause", action="store_true", help="also unpause the DAGs through the API")

    mig = sub.add_parser("migrate", parents=[state, api], help="comment out jobs' lines: the DAGs take over")
    mig.add_argument("--crontab", type=Path, required=True)
    mig.add_argument("--jobs", type=_jobs, required=True)
    mig.add_argument("--unpause", action="store_true", help="unpause the DAGs through the API first")
    mig.add_argument("--dry-run", action="store_true", help="print the resulting crontab, change nothing")

    back = sub.add_parser("rollback", parents=[state, api], help="give jobs back to cron, pause their DAGs")
    back.add_argument("--crontab", type=Path, required=True)
    back.add_argument("--jobs", type=_jobs, help="these jobs only (default: restore the saved original)")

    stat = sub.add_parser("status", parents=[state], help="where each job runs")
    stat.add_argument("--crontab", type=Path, help="also show what this crontab says")
    stat.add_argument("--json", action="store_true")

    run = sub.add_parser("parallel-run", help="run a job under cron and as its DAG (DAG.test()), compare outputs")
    run.add_argument("--job", required=True, help=f"one of: {', '.join(ENTRYPOINTS)}")
    run.add_argument("--tickers", default=PARALLEL_DEFAULTS.tickers)
    run.add_argument("--start-date", default=PARALLEL_DEFAULTS.start_date)
    run.add_argument("--end-date", default=PARALLEL_DEFAULTS.end_date)
    run.add_argument("--work-dir", type=Path, help="where the two homes go (default: a new temporary directory)")
    run.add_argument("--json", action="store_true")
    return parser


def _api(args: argparse.Namespace) -> DagSwitch:
    from local_stack.api_client import AirflowApi
    from local_stack.local import local_api

    password = os.environ.get(PASSWORD_VARIABLE)
    if password is not None:
        if not args.api_url:
            raise StateError(f"${PASSWORD_VARIABLE} is set: give --api-url too")
        return AirflowApi(args.api_url, username=args.api_user, password=password)
    api = local_api(args.api_url)
    api.username = args.api_user
    return api


def _show(crontab: Crontab, as_json: bool) -> int:
    rows = [{"line": e.line_no, "schedule": e.schedule, "zone": e.zone, "zone_source": e.zone_source,
             "job": e.job, "dag_id": e.dag_id, "active": e.active, "reboot": e.is_reboot, "command": e.command}
            for e in crontab.entries]
    if as_json:
        print(json.dumps({"crontab": crontab.source, "environment": crontab.environment, "entries": rows},
                         indent=2))
        return 0
    for name, value in crontab.environment.items():
        print(f"{name}={value}")
    for row in rows:
        where = f"line {row['line']:>3}"
        zone = f"  zone {row['zone']} ({row['zone_source']})" if row["zone"] else ""
        state = "" if row["active"] else "  [migrated]"
        target = f"{row['job']} -> {row['dag_id'] or 'no DAG'}" if row["job"] else "not a production_cron.sh job"
        print(f"{where}  {row['schedule']:<20} {target}{zone}{state}")
    return 0


def _cron_zone(value: str | None) -> ZoneChoice:
    if value:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise StateError(f"--cron-tz {value!r} is not a known time zone") from None
        return ZoneChoice(value, "--cron-tz")
    name, source = machine_zone()
    return ZoneChoice(name, f"this machine's zone, from {source}; --cron-tz to change")


def _parity(args: argparse.Namespace) -> int:
    if args.count < 1:
        raise StateError("--count must be at least 1")
    crontab = read_crontab(args.crontab)
    zone = _cron_zone(args.cron_tz)
    start = (args.start or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    dag_ids = sorted({e.dag_id for e in crontab.entries if e.dag_id and (not args.jobs or e.job in args.jobs)})
    schedules = load_schedules(dag_ids)
    results = crontab_parity(crontab, schedules, zone, start, count=args.count,
                             window=timedelta(hours=args.window_hours), jobs=args.jobs)
    if args.json:
        print(json.dumps(parity_json(results, zone, start, args.count, args.window_hours), indent=2))
    else:
        print(parity_text(results, zone, start, args.count, args.window_hours))
    return 1 if unexpected(results, strict=args.strict) else 0


def _parallel_run(args: argparse.Namespace) -> int:
    for name in ("start_date", "end_date"):
        try:
            date.fromisoformat(getattr(args, name))
        except ValueError:
            raise StateError(f"--{name.replace('_', '-')} {getattr(args, name)!r} is not a YYYY-MM-DD date") from None
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="pmx-parallel-run-"))
    progress = (lambda message: print(message, file=sys.stderr)) if args.json else print
    try:
        outcome = parallel_run(args.job, Inputs(args.tickers, args.start_date, args.end_date), work_dir, progress)
    except ParallelRunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(outcome.as_dict(), indent=2, default=str) if args.json else report_text(outcome))
    return 1 if outcome.differences else 0


def _print_outcome(outcome: Outcome) -> int:
    for message in outcome.messages:
        print(message)
    for failure in outcome.failures:
        print(f"error: {failure}", file=sys.stderr)
    return 0 if outcome.ok else 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "show":
        return _show(read_crontab(args.crontab), args.json)
    if args.command == "parity":
        return _parity(args)
    if args.command == "parallel-run":
        return _parallel_run(args)
    state = CutoverState.load(args.state)
    if args.command == "status":
        crontab = read_crontab(args.crontab) if args.crontab else None
        rows = status_rows(state, crontab)
        print(json.dumps({"state": str(state.path), "jobs": rows}, indent=2) if args.json
              else status_text(rows, state))
        return 0 if all(row["consistent"] for row in rows) else 1
    if args.command == "parallel":
        return _print_outcome(parallel(args.jobs, state, crontab=args.crontab,
                                       api=_api(args) if args.unpause else None))
    if args.command == "migrate":
        outcome = migrate(args.crontab, args.jobs, state, api=_api(args) if args.unpause else None,
                          dry_run=args.dry_run)
        if outcome.crontab is not None:
            sys.stdout.buffer.write(outcome.crontab)
            return 0
        return _print_outcome(outcome)
    return _print_outcome(rollback(args.crontab, args.jobs, state, _api(args)))


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    args: Any = _parser().parse_args(argv)
    try:
        return _run(args)
    except (CrontabError, StateError, DagLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
