"""``make run`` / ``make up``: bootstrap the local Airflow stack, run ``portfolio_master`` once, summarise.

``make run``: migrate, create pools/Variables/Connections, start api-server + scheduler + dag-processor +
triggerer on 127.0.0.1, trigger ``portfolio_master`` in synthetic mode, show progress, print a summary and
stop the stack. ``make up`` (``--keep-running``) leaves the stack up until Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from orchestration.local import local_layout
from orchestration.stack import AirflowStack, StackError

MASTER_DAG = "portfolio_master"


def say(message: str) -> None:
    """Progress output with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def bootstrap(stack: AirflowStack) -> None:
    """Migrate the metadata DB and create pools, Variables and Connections (idempotent)."""
    stack.migrate()
    say("creating pools, Variables and Connections")
    proc = subprocess.run([sys.executable, "-m", "orchestration.bootstrap"], env=stack.env, text=True,
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


def summarise(stack: AirflowStack, run: dict[str, Any]) -> None:
    """Print run state, task counts, what the pipeline produced and where the logs are."""
    from portfolio.reporting import pipeline_summary

    tis = stack.api.task_instances(MASTER_DAG, run["dag_run_id"])
    counts = Counter(ti["state"] for ti in tis)
    failed = sorted(f"{ti['task_id']}[{ti['map_index']}]" for ti in tis if ti["state"] == "failed")
    print("\n=== portfolio_master summary ===")
    print(f"run:        {run['dag_run_id']}  state={run['state']}")
    print(f"tasks:      {dict(sorted(counts.items()))}" + (f"  failed: {', '.join(failed)}" if failed else ""))
    for key, value in pipeline_summary(run["dag_run_id"]).items():
        print(f"{key + ':':<11} {value}")
    print(f"task logs:  {stack.layout.home / 'logs'}")
    print(f"stack logs: {stack.log_dir}")
    print(f"UI:         {stack.layout.api_url} (user admin, password in "
          f"{stack.layout.home / 'simple_auth_manager_passwords.json.generated'})")


def main(argv: list[str] | None = None) -> int:
    """Command line entrypoint."""
    parser = argparse.ArgumentParser(prog="run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep-running", action="store_true", help="leave the stack up until Ctrl-C")
    parser.add_argument("--bootstrap-only", action="store_true", help="migrate and bootstrap, start nothing")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the master run")
    args = parser.parse_args(argv)

    layout = local_layout()
    say(f"Airflow home {layout.home}, pipeline home {layout.pmx_home}")
    # One shot: no schedules, so the triggered run is the only run (see dag_defaults.schedules_enabled).
    stack = AirflowStack(layout, say=say, extra_env=None if args.keep_running else {"PMX_SCHEDULES": "off"})
    try:
        bootstrap(stack)
        if args.bootstrap_only:
            return 0
        stack.start()
        say(f"stack healthy; UI at {layout.api_url}")
        stack.api.wait_for_dags([MASTER_DAG])
        stack.api.set_paused(MASTER_DAG, False)
        run_id = stack.api.trigger(MASTER_DAG, conf={"execution_mode": "synthetic"})
        say(f"triggered {MASTER_DAG} run {run_id}")
        run = stack.api.wait_for_run(MASTER_DAG, run_id, timeout=args.timeout, poll=3, progress=Progress())
        summarise(stack, run)
        if args.keep_running:
            say("stack keeps running; Ctrl-C stops it")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0 if run["state"] == "success" else 1
    except StackError as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
