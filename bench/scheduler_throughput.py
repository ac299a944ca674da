"""Scheduler throughput (task instances per minute) of a mapped DAG, observability plugin on vs off, A-B-B-A.

``mapped_throughput`` (bench/dags/): ``inputs`` -> ``double`` mapped over ``--tasks`` inputs (x * 2) -> ``done``,
so ``--tasks`` + 2 task instances. Every run gets its own private stack (bench/private_stack.py: own home, free
ports, schedules off) with the components of ``make run``, per profile:

- ``embedded``: as shipped, LocalExecutor and SQLite metadata.
- ``celery``: PostgreSQL metadata in a throw-away database (127.0.0.1:5432) and CeleryExecutor with a private
  ``redis-server`` broker (local_stack/redis_server.py), plus one ``celery-worker`` with concurrency = the
  shipped ``core.parallelism``, on the ``default`` queue (the bench DAG's). The broker is stopped and the
  database dropped after each run, also on Ctrl-C.

Plugin on = the shipped settings: the add-on's listener (JSON events, StatsD metrics, error thresholds), its SLA
part and OpenLineage (through ``lineage.transport``). Plugin off = ``PMX_LISTENER_ENABLED=false`` (no listener
registered, so no task or DAG-run hook of the add-on runs), ``PMX_ALERTS_ENABLED=false`` (no SLA deadline
reference, no SLA view) and ``[openlineage] disabled = true`` (the provider registers no lineage listener), for
every process of the stack. Airflow has no setting that skips an entry-point plugin: the plugin class itself
still loads (addon/plugin.py), empty. The project's StatsD metrics are on in both (sent to a socket that drops
them). Each run line shows the listener and lineage events it produced, which proves the switch.

Each stack first runs the DAG once with one mapped input (not counted: the first task processes, connections and
caches). Then, per measured run: trigger -> run end (``queued_at`` -> ``end_date``) and task instances per minute
over it, and over first task start -> last task end (the API's task-instance dates). Per profile: mean TI/min
on and off, and on / off against the target (>= 0.97).

    .venv/bin/python bench/scheduler_throughput.py [--profiles embedded,celery] [--tasks 200] [--rounds 1]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from private_stack import REPO, celery_backend, dag_bundle, private_stack, run_seconds, timestamp

DAG_ID = "mapped_throughput"
TARGET = 0.97
PROFILES = ("embedded", "celery")


@dataclass(frozen=True)
class Run:
    wall_s: float
    active_s: float
    task_instances: int
    listener_events: int
    lineage_events: int

    @property
    def per_minute(self) -> float:
        return self.task_instances * 60 / self.wall_s

    @property
    def active_per_minute(self) -> float:
        return self.task_instances * 60 / self.active_s


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def plugin_switches(on: bool) -> tuple[dict[str, str], dict[str, str]]:
    """(Airflow settings, process environment) that turn the add-on's hooks and lineage on or off."""
    flag = str(on).lower()
    return {"openlineage.disabled": str(not on).lower()}, {"PMX_LISTENER_ENABLED": flag, "PMX_ALERTS_ENABLED": flag}


def shipped_parallelism() -> int:
    from foundation.config_loader import read_yaml
    from foundation.paths import config_dir

    return int(read_yaml(config_dir() / "airflow.yml")["core"]["parallelism"])


def listener_events(stack_root: Path, run_id: str) -> int:
    """The listener's events about ``run_id``."""
    from foundation.pipeline_logger import read_events

    log_dir = stack_root / "pmx" / "logs" / "pipeline"
    return sum(1 for stream in ("pipeline", "events") for e in read_events(log_dir, stream)  # type: ignore[arg-type]
               if e.get("component") == "listener" and e.get("run_id") == run_id)


def lineage_events(stack_root: Path) -> int:
    """The lineage events the file transport has written so far."""
    path = stack_root / "airflow" / "openlineage" / "events.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def finished(stack: Any, tasks: int) -> tuple[str, dict[str, Any]]:
    """Trigger a run of ``tasks`` mapped inputs and wait for it to succeed; its run id and the run."""
    run_id = stack.api.trigger(DAG_ID, conf={"tasks": tasks})
    run = stack.api.wait_for_run(DAG_ID, run_id, timeout=1800, poll=1)
    if run["state"] != "success":
        raise SystemExit(f"{DAG_ID} {run_id} ended {run['state']}: logs in {stack.log_dir}")
    return run_id, run


def one_run(profile: str, plugin: bool, tasks: int) -> Run:
    from local_stack.stack import DEFAULT_COMPONENTS

    settings, env = plugin_switches(plugin)
    settings |= dag_bundle(REPO / "bench" / "dags")
    components = DEFAULT_COMPONENTS
    with ExitStack() as scope:
        root = Path(scope.enter_context(tempfile.TemporaryDirectory(prefix="bench-throughput-")))
        if profile == "celery":
            settings |= scope.enter_context(celery_backend(shipped_parallelism()))
            components = (*components, "celery-worker")
        say(f"{profile}, plugin {'on' if plugin else 'off'}: starting a stack ({', '.join(components)})")
        stack = scope.enter_context(private_stack(root, settings=settings, dags=[DAG_ID], quiet=True,
                                                  components=components, env=env, statsd=True))
        say(f"  healthy after {stack.started_s:.1f} s; a warm-up run (1 mapped input, not counted)")
        finished(stack, 1)
        lineage_before = lineage_events(root)
        say(f"  the measured run: {tasks} mapped task instances")
        run_id, run = finished(stack, tasks)
        tis = stack.api.task_instances(DAG_ID, run_id)
        starts = [s for ti in tis if (s := timestamp(ti.get("start_date")))]
        ends = [e for ti in tis if (e := timestamp(ti.get("end_date")))]
        say("  run done; stopping the stack")
        return Run(run_seconds(run), (max(ends) - min(starts)).total_seconds(), len(tis),
                   listener_events(root, run_id), lineage_events(root) - lineage_before)


def report(profile: str, plugin: bool, run: Run) -> None:
    print(f"{profile:<9} plugin {'on ' if plugin else 'off'}  trigger -> end {run.wall_s:7.1f} s  "
          f"{run.task_instances} TIs  {run.per_minute:7.1f} TI/min  |  first start -> last end "
          f"{run.active_s:7.1f} s  {run.active_per_minute:7.1f} TI/min  "
          f"(listener events {run.listener_events}, lineage events {run.lineage_events})", flush=True)


def summary(profile: str, runs: dict[bool, list[Run]]) -> None:
    def ratio(measure: str) -> tuple[float, float, float]:
        on = statistics.mean(getattr(r, measure) for r in runs[True])
        off = statistics.mean(getattr(r, measure) for r in runs[False])
        return on, off, on / off

    (on, off, r), (a_on, a_off, a_r) = ratio("per_minute"), ratio("active_per_minute")
    print(f"{profile:<9} TI/min on {on:7.1f}  off {off:7.1f}  on / off {r:5.3f} "
          f"({'meets' if r >= TARGET else 'misses'} >= {TARGET})  |  first start -> last end: on {a_on:7.1f}  "
          f"off {a_off:7.1f}  on / off {a_r:5.3f}", flush=True)


def interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM tears down like Ctrl-C: stacks stopped, database dropped, Redis flushed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", default=",".join(PROFILES), help="comma-separated: embedded, celery")
    parser.add_argument("--tasks", type=int, default=200, help="mapped task instances (1-1024)")
    parser.add_argument("--rounds", type=int, default=1, help="A-B-B-A repetitions (4 runs, 4 stacks each)")
    args = parser.parse_args()
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    if unknown := set(profiles) - set(PROFILES):
        parser.error(f"unknown profiles: {', '.join(sorted(unknown))}")
    signal.signal(signal.SIGTERM, interrupted)
    print(f"{DAG_ID}: {args.tasks} mapped + 2 task instances, {args.rounds} A-B-B-A round(s)", flush=True)
    for profile in profiles:
        runs: dict[bool, list[Run]] = {True: [], False: []}
        for plugin in (True, False, False, True) * args.rounds:
            run = one_run(profile, plugin, args.tasks)
            runs[plugin].append(run)
            report(profile, plugin, run)
        summary(profile, runs)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        say("interrupted: every stack stopped, its database dropped and its Redis index flushed")
        sys.exit(130)
