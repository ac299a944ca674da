"""``make run`` / ``make up``: bootstrap the local Airflow stack, run ``portfolio_master`` once, summarise.

``make run``: migrate, create pools/Variables/Connections, start api-server + scheduler + dag-processor +
triggerer on 127.0.0.1, trigger ``portfolio_master`` in synthetic mode, show progress, print a summary and
stop the stack. ``make up`` (``--keep-running``) leaves the stack up until Ctrl-C, SIGTERM or SIGHUP, which
all stop every component. A port already taken is named, with the setting that moves it, before anything
starts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from local_stack.local import local_layout
from local_stack.stack import AirflowStack, StackError

MASTER_DAG = "portfolio_master"
REPORT_TASK = "performance_report"  # the master DAG's last task (dags/portfolio_master.py)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # what a supervisor, systemd or a closed terminal sends


class StopRequested(Exception):
    """SIGTERM or SIGHUP arrived: stop the stack exactly as Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _request_stop(signum: int, _frame: object) -> None:
    raise StopRequested(signum)


def say(message: str) -> None:
    """Progress output with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def bootstrap(stack: AirflowStack) -> None:
    """Migrate the metadata DB and create pools, Variables and Connections (idempotent)."""
    stack.migrate()
    say("creating pools, Variables and Connections")
    proc = subprocess.run([sys.executable, "-m", "local_stack.bootstrap"], env=stack.env, text=True,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise StackError(f"bootstrap failed:\n{proc.stdout}{proc.stderr[-3000:]}")
    for line in proc.stdout.splitlines():
        say(f"  {line}")


class Progress:
    """Prints a line whenever the task-state counts of the run change."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, run: dict[str, Any], tis: list[dict[str, Any]]) -> None:
        counts = Counter(ti["state"] or "scheduled" for ti in tis)
        line = f"{run['state']}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        if line != self.last:
            say(line)
            self.last = line


def run_report(api: Any, run_id: str) -> dict[str, Any] | None:
    """What the master run's report task returned (its ``run`` section says state, trades and equity)."""
    try:
        entry = api.request("GET", f"/dags/{MASTER_DAG}/dagRuns/{run_id}/taskInstances/{REPORT_TASK}"
                                   "/xcomEntries/return_value", params={"deserialize": "true"})
    except Exception:
        return None
    value = entry.get("value") if isinstance(entry, dict) else None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    return value if isinstance(value, dict) else None


def report_line(report: dict[str, Any] | None, summary: dict[str, str], state: str) -> str:
    """Where the run's report is and whether it tells the same story as this summary."""
    section = (report or {}).get("run")
    if not report or not section:
        return "not built for this run (see the performance_report task log)"
    told = {"state": section.get("state"), "trades": f"{section['trades']} (costs ${section['trade_costs']:,.2f})",
            "equity": "no snapshot yet" if section.get("equity") is None
            else f"${section['equity']:,.2f} (PnL ${section['pnl']:,.2f})"}
    differs = [k for k, v in told.items() if v != (state if k == "state" else summary.get(k))]
    verdict = f"DIFFERS on {', '.join(differs)}: {told}" if differs else "agrees on state, trades and equity"
    return f"{report.get('json')} ({verdict})"


def run_summary(stack: AirflowStack, run: dict[str, Any]) -> dict[str, str]:
    """The summary lines of one finished master run (printed by :func:`summarise`)."""
    from portfolio.reporting import pipeline_summary

    tis = stack.api.task_instances(MASTER_DAG, run["dag_run_id"])
    counts = Counter(ti["state"] for ti in tis)
    failed = sorted(f"{ti['task_id']}[{ti['map_index']}]" for ti in tis if ti["state"] == "failed")
    lines = {"run": f"{run['dag_run_id']}  state={run['state']}",
             "tasks": f"{dict(sorted(counts.items()))}" + (f"  failed: {', '.join(failed)}" if failed else "")}
    pipeline = pipeline_summary(run["dag_run_id"])
    lines.update(pipeline)
    lines["report"] = report_line(run_report(stack.api, run["dag_run_id"]), pipeline, run["state"])
    return lines


def summarise(stack: AirflowStack, run: dict[str, Any]) -> None:
    """Print run state, task counts, what the pipeline produced, the report and where the logs are."""
    print("\n=== portfolio_master summary ===")
    for key, value in run_summary(stack, run).items():
        print(f"{key + ':':<11} {value}")
    print(f"task logs:  {stack.layout.home / 'logs'}")
    print(f"stack logs: {stack.log_dir}")
    print(f"UI:         {stack.layout.api_url} (user admin, password in "
          f"{stack.layout.home / 'simple_auth_manager_passwords.json.generated'})")


def switch_schedules_on(stack: AirflowStack, timeout: float = 300) -> None:
    """Re-parse the DAGs with their schedules (``make up``, after the first run has been summarised).

    The dag-processor and the scheduler (whose LocalExecutor workers parse DAG files too) restart with
    ``PMX_SCHEDULES=on``; the master DAG then gets its schedule back and the scheduler starts the run of its
    latest past slot, which on a fresh install is not paged as an SLA miss (docs/slas.md#first-start-and-downtime).
    """
    say("first run done: turning the schedules on (dag-processor and scheduler restart)")
    stack.env["PMX_SCHEDULES"] = "on"
    for name in ("dag-processor", "scheduler"):
        stack.restart_component(name)
    stack.wait_healthy()
    deadline = time.monotonic() + timeout
    while str((stack.api.dag(MASTER_DAG) or {}).get("timetable_summary") or "None") == "None":
        if time.monotonic() > deadline:
            raise StackError(f"{MASTER_DAG} has no schedule {timeout:.0f}s after the restart; "
                             f"logs in {stack.log_dir}")
        time.sleep(2)
    say(f"schedules on: {MASTER_DAG} next runs {(stack.api.dag(MASTER_DAG) or {}).get('timetable_summary')}")


def main(argv: list[str] | None = None) -> int:
    """Command line entrypoint."""
    parser = argparse.ArgumentParser(prog="run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep-running", action="store_true",
                        help="leave the stack up until Ctrl-C, SIGTERM or SIGHUP")
    parser.add_argument("--bootstrap-only", action="store_true", help="migrate and bootstrap, start nothing")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the master run")
    args = parser.parse_args(argv)

    try:
        layout = local_layout()
    except ValueError as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 2
    say(f"Airflow home {layout.home}, pipeline home {layout.pmx_home}")
    # The first run is the only run: the DAGs are parsed without schedules until it is done (see
    # dag_defaults.schedules_enabled), so no catch-up run races it for the same bars; ``make up`` then turns
    # the schedules on (switch_schedules_on).
    stack = AirflowStack(layout, say=say, extra_env={"PMX_SCHEDULES": "off"})
    for sig in STOP_SIGNALS:
        signal.signal(sig, _request_stop)
    try:
        if not args.bootstrap_only:
            stack.check_ports()  # before migrating or starting anything
        bootstrap(stack)
        if args.bootstrap_only:
            return 0
        stack.start()
        say(f"stack healthy; UI at {layout.api_url}")
        stack.api.wait_for_dags([MASTER_DAG])
        stack.api.set_paused(MASTER_DAG, False)
        run_id = stack.api.trigger(MASTER_DAG, conf={"execution_mode": "synthetic"})
        say(f"triggered {MASTER_DAG} run {run_id}")
        run = stack.api.wait_for_run(MASTER_DAG, run_id, timeout=args.timeout, poll=1, progress=Progress())
        summarise(stack, run)
        if args.keep_running:
            switch_schedules_on(stack)
            say("stack keeps running; Ctrl-C (or SIGTERM/SIGHUP) stops it")
            while True:
                signal.pause()
        return 0 if run["state"] == "success" else 1
    except StackError as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except StopRequested as exc:
        say(f"{exc} received: stopping the stack")
        return 128 + exc.signum
    finally:
        # A second signal must not cut the stop short (each component gets SIGKILL after its timeout anyway).
        for sig in (signal.SIGINT, *STOP_SIGNALS):
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
