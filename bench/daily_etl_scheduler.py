"""daily_etl for N tickers x 5 years under the real scheduler vs the same work run directly as a script.

Starts a private stack (LocalExecutor, the project's config/airflow.yml), triggers ``daily_etl`` in synthetic
mode and times trigger -> run end; then runs ``scripts/run_etl_pipeline.py`` in a fresh interpreter on a fresh
pipeline home with the same tickers and dates. Prints numbers only.

    .venv/bin/python bench/daily_etl_scheduler.py [--tickers 50] [--start 2020-01-01] [--end 2024-12-31]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from private_stack import REPO, parse_settings, synthetic_tickers, timestamp


class RssSampler(threading.Thread):
    """Samples, once a second, the memory of every process of the stack (components, workers, tasks): the sum of
    their proportional set sizes (shared pages divided among their sharers: the fork server's libraries are not
    counted once per task) and the largest resident set of one process."""

    def __init__(self, stack: Any) -> None:
        super().__init__(daemon=True)
        self.stack, self.done = stack, threading.Event()
        self.peak_total_mb = self.peak_process_mb = 0.0

    def run(self) -> None:
        import psutil

        while not self.done.wait(1.0):
            pss, rss = [], []
            for proc in list(self.stack.procs.values()):
                try:
                    root = psutil.Process(proc.pid)
                    family = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                for p in family:
                    try:
                        info = p.memory_full_info()
                    except psutil.Error:
                        continue
                    pss.append(info.pss)
                    rss.append(info.rss)
            self.peak_total_mb = max(self.peak_total_mb, sum(pss) / 2**20)
            self.peak_process_mb = max(self.peak_process_mb, max(rss, default=0) / 2**20)


def under_scheduler(root: Path, conf: dict[str, str], *, plain_fork: bool = False,
                    settings: dict[str, str] | None = None) -> dict[str, float]:
    from private_stack import private_stack

    extra = {"scheduler.mp_start_method": "fork"} if plain_fork else {}
    with private_stack(root, settings={**extra, **(settings or {})}, dags=["daily_etl"]) as stack:
        sampler = RssSampler(stack)
        sampler.start()
        started = time.monotonic()
        run_id = stack.api.trigger("daily_etl", conf=conf)
        run = stack.api.wait_for_run("daily_etl", run_id, timeout=7200, poll=2)
        wall = time.monotonic() - started
        sampler.done.set()
        tis = stack.api.task_instances("daily_etl", run_id)
        cron = (root / "pmx" / "logs" / "cron" / "daily_etl.log")
        cron_lines = cron.read_text(encoding="utf-8").splitlines() if cron.exists() else []
    assert run["state"] == "success", run
    durations = [ti["duration"] or 0.0 for ti in tis]
    by_task: dict[str, list[float]] = {}
    for ti in tis:
        by_task.setdefault(ti["task_id"], []).append(ti["duration"] or 0.0)
    queued = [(datetime.fromisoformat(ti["start_date"]) - datetime.fromisoformat(ti["queued_when"])).total_seconds()
              for ti in tis if ti.get("queued_when") and ti.get("start_date")]
    return {"wall_s": wall, "task_instances": len(tis), "sum_task_s": sum(durations),
            "peak_stack_pss_mb": sampler.peak_total_mb, "peak_process_rss_mb": sampler.peak_process_mb,
            "median_queue_to_start_s": statistics.median(queued) if queued else float("nan"),
            **{f"median_{k}_s": statistics.median(v) for k, v in sorted(by_task.items())},
            **breakdown(tis, cron_lines), **run_edges(run, tis)}


def run_edges(run: dict, tis: list[dict]) -> dict[str, float]:
    """Run start -> first task scheduled, and last task end -> run end (the scheduler noticing the run is done)."""
    scheds = [s for ti in tis if (s := timestamp(ti.get("scheduled_when")))]
    ends = [e for ti in tis if (e := timestamp(ti.get("end_date")))]
    start, end = timestamp(run.get("start_date")), timestamp(run.get("end_date"))
    out: dict[str, float] = {}
    if start and scheds:
        out["run_start_to_first_sched_s"] = (min(scheds) - start).total_seconds()
    if end and ends:
        out["last_end_to_run_end_s"] = (end - max(ends)).total_seconds()
    return out


def breakdown(tis: list[dict], cron_lines: list[str]) -> dict[str, float]:
    """Median seconds of each leg of one task instance's life (metadata-DB timestamps + the cron log).

    scheduled -> queued (scheduler loop, pool and concurrency limits), queued -> start (executor pick-up,
    fork, supervisor, Execution API ``run`` call), start -> execute (worker DAG parse, context, listener and
    OpenLineage start hooks), execute (our code), execute end -> end_date (state report); and the scheduler hop
    from the end of what a task instance waits for (its upstream of the same map index, else the last upstream
    instance) to its ``scheduled_when``.
    """
    marks: dict[tuple[str, int], dict[str, datetime]] = {}
    for line in cron_lines:
        parts = line.split()
        if len(parts) < 3 or parts[1] not in ("START", "SUCCESS", "FAILED"):
            continue
        name = parts[2].split(".", 1)[1] if "." in parts[2] else parts[2]
        task_id, _, index = name.rpartition("[")
        key = (task_id, int(index.rstrip("]")))
        marks.setdefault(key, {})[parts[1]] = datetime.fromisoformat(parts[0].replace("Z", "+00:00"))
    legs: dict[str, list[float]] = {k: [] for k in ("sched_to_queued", "queued_to_start", "start_to_execute",
                                                    "execute", "execute_to_end", "hop_end_to_next_sched")}
    ends: dict[str, dict[int, datetime]] = {}
    for ti in tis:
        sched, queued, start, end = (timestamp(ti.get(k)) for k in ("scheduled_when", "queued_when", "start_date",
                                                               "end_date"))
        if end:
            ends.setdefault(ti["task_id"], {})[ti["map_index"]] = end
        mark = marks.get((ti["task_id"], ti["map_index"]), {})
        done = mark.get("SUCCESS") or mark.get("FAILED")
        if sched and queued:
            legs["sched_to_queued"].append((queued - sched).total_seconds())
        if queued and start:
            legs["queued_to_start"].append((start - queued).total_seconds())
        if start and "START" in mark:
            legs["start_to_execute"].append((mark["START"] - start).total_seconds())
        if "START" in mark and done:
            legs["execute"].append((done - mark["START"]).total_seconds())
        if done and end:
            legs["execute_to_end"].append((end - done).total_seconds())
    starts = [(ti["start_date"], ti["task_id"]) for ti in tis if ti.get("start_date")]
    order = list(dict.fromkeys(task_id for _, task_id in sorted(starts)))
    for up, down in itertools.pairwise(order):  # upstream end (same map index, else the last) -> scheduled
        for ti in tis:
            sched, up_ends = timestamp(ti.get("scheduled_when")), ends.get(up, {})
            if ti["task_id"] == down and sched and up_ends:
                ready = up_ends.get(ti["map_index"]) or max(up_ends.values())
                legs["hop_end_to_next_sched"].append((sched - ready).total_seconds())
    return {f"median_{k}_s": statistics.median(v) for k, v in legs.items() if v}


def as_script(root: Path, args: argparse.Namespace) -> tuple[float, float]:
    env = {**os.environ, "PMX_HOME": str(root), "PMX_LOG_DIR": str(root / "logs"), "PMX_STATSD_ENABLED": "false",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env.pop("PORTFOLIO_DB_PATH", None)
    cmd = [sys.executable, str(REPO / "scripts" / "run_etl_pipeline.py"), "--tickers", synthetic_tickers(args.tickers),
           "--start-date", args.start, "--end-date", args.end, "--mode", "synthetic", "--run-id", "bench"]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"the script failed: exit {proc.returncode}")
    return time.monotonic() - started, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=50)
    parser.add_argument("--start", default="2020-01-01")
    parser.add_argument("--end", default="2024-12-31")
    parser.add_argument("--plain-fork", action="store_true",
                        help="workers forked from the scheduler (no preloaded libraries), for comparison")
    parser.add_argument("--keep", type=Path, help="keep the stack (Airflow home, task logs, pipeline home) here")
    parser.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                        help="an Airflow setting on top of config/airflow.yml (repeat)")
    args = parser.parse_args()
    conf = {"execution_mode": "synthetic", "tickers": synthetic_tickers(args.tickers), "start_date": args.start,
            "end_date": args.end}
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
    with tempfile.TemporaryDirectory(prefix="bench-etl-") as scratch:
        tmp = str(args.keep or scratch)
        print(f"daily_etl, {args.tickers} tickers, {args.start}..{args.end}, synthetic")
        workers = "forked from the scheduler" if args.plain_fork else "forked from the preloaded fork server"
        print(f"under the scheduler (LocalExecutor, workers {workers}):", flush=True)
        airflow = under_scheduler(Path(tmp) / "stack", conf, plain_fork=args.plain_fork,
                                  settings=parse_settings(args.set))
        for key, value in airflow.items():
            print(f"  {key:<28} {value:10.1f}")
        print("as a script (scripts/run_etl_pipeline.py, same work, fresh home):", flush=True)
        script, script_rss = as_script(Path(tmp) / "script", args)
        print(f"  {'wall_s':<28} {script:10.1f}")
        print(f"  {'peak_rss_mb':<28} {script_rss:10.1f}")
        print(f"ratio scheduler / script: {airflow['wall_s'] / script:.2f}")


if __name__ == "__main__":
    main()
