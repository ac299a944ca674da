"""portfolio_master (synthetic, the default 3 tickers) under a private stack: start-up, run time, CPU.

Prints, per setting tried: stack start -> healthy, each master run's trigger -> success (``queued_at`` ->
``end_date`` of the run, so the poll interval does not count), the critical-path legs of the last run, and
the CPU the stack burns (all components and their task processes) per run and per idle minute.

    .venv/bin/python bench/master_run.py [--runs 3] [--idle 30] [--set scheduler.scheduler_idle_sleep_time=0.2 ...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from private_stack import parse_settings, private_stack, run_seconds, timestamp

MASTER = "portfolio_master"


def stack_cpu_s(stack: Any) -> float:
    """User + system CPU seconds of every component and its live descendants (task processes included)."""
    import psutil

    total = 0.0
    for proc in stack.procs.values():
        try:
            root = psutil.Process(proc.pid)
            for p in [root, *root.children(recursive=True)]:
                with_children = p.cpu_times()
                total += with_children.user + with_children.system
        except psutil.Error:
            continue
    return total


def legs(tis: list[dict]) -> dict[str, float]:
    """Sums over the run's task instances: queued -> start, run time, and the scheduler's hops (an instance's
    scheduled time minus the latest end before it)."""
    ran = [ti for ti in tis if timestamp(ti.get("start_date")) and timestamp(ti.get("end_date"))]
    ends = sorted(e for ti in ran if (e := timestamp(ti["end_date"])))
    hops, waits = [], []
    for ti in ran:
        sched, queued, start = (timestamp(ti.get(k)) for k in ("scheduled_when", "queued_when", "start_date"))
        if queued and start:
            waits.append((start - queued).total_seconds())
        before = [e for e in ends if sched and e <= sched]
        if sched and before:
            hops.append((sched - before[-1]).total_seconds())
    return {"task_instances_run": len(ran), "median_queued_to_start_s": statistics.median(waits) if waits else 0,
            "median_hop_s": statistics.median(hops) if hops else 0,
            "sum_duration_s": sum(ti.get("duration") or 0 for ti in ran)}


def measure(settings: dict[str, str], runs: int, idle: float) -> None:
    label = ", ".join(f"{k}={v}" for k, v in settings.items()) or "shipped config/airflow.yml"
    print(f"== {label}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-master-") as tmp, \
            private_stack(Path(tmp), settings=settings, dags=[MASTER], quiet=True) as stack:
        print(f"  stack start -> healthy          {stack.started_s:8.1f} s")
        walls, cpus = [], []
        tis: list[dict] = []
        for _ in range(runs):
            cpu0 = stack_cpu_s(stack)
            run_id = stack.api.trigger(MASTER, conf={"execution_mode": "synthetic"})
            run = stack.api.wait_for_run(MASTER, run_id, timeout=600, poll=0.5)
            cpus.append(stack_cpu_s(stack) - cpu0)
            assert run["state"] == "success", run
            walls.append(run_seconds(run))
            tis = stack.api.task_instances(MASTER, run_id)
            time.sleep(2)  # let the last task processes exit before the next run
        print("  trigger -> success              " + "  ".join(f"{w:6.1f}" for w in walls)
              + f"   median {statistics.median(walls):6.1f} s")
        print(f"  stack CPU per run               {statistics.median(cpus):8.1f} s (median)")
        for key, value in legs(tis).items():
            print(f"  last run: {key:<22}{value:8.2f}")
        cpu0 = stack_cpu_s(stack)
        time.sleep(idle)
        print(f"  stack CPU idle                  {(stack_cpu_s(stack) - cpu0) * 60 / idle:8.1f} s per minute")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=30, help="seconds of idle CPU sampling after the runs")
    parser.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                        help="an Airflow setting on top of config/airflow.yml (repeat; compare against none)")
    parser.add_argument("--compare", action="store_true", help="also run the shipped settings first")
    args = parser.parse_args()
    settings = parse_settings(args.set)
    if args.compare and settings:
        measure({}, args.runs, args.idle)
    measure(settings, args.runs, args.idle)


if __name__ == "__main__":
    main()
