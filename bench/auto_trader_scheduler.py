"""One auto_trader cycle for N tickers under the real scheduler vs the same cycle as a script.

Starts a private stack, loads N tickers x 1 year (synthetic) with ``daily_etl``, copies the pipeline home, then
triggers ``auto_trader`` (synthetic: the market-hours sensor is bypassed) and times trigger -> success
(``queued_at`` -> ``end_date``); then runs ``scripts/run_auto_trader.py`` in a fresh interpreter on the copy,
which holds the same bars and forecasts and no trade yet. Prints numbers only.

    .venv/bin/python bench/auto_trader_scheduler.py [--tickers 50] [--set section.key=value ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from private_stack import REPO, parse_settings, private_stack, run_seconds, synthetic_tickers

START, END = "2024-01-01", "2024-12-31"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=50)
    parser.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE")
    args = parser.parse_args()
    conf = {"execution_mode": "synthetic", "tickers": synthetic_tickers(args.tickers), "start_date": START,
            "end_date": END}
    print(f"auto_trader cycle, {args.tickers} tickers (data: {START}..{END}, synthetic)")
    with tempfile.TemporaryDirectory(prefix="bench-trader-") as tmp:
        root = Path(tmp)
        with private_stack(root / "stack", settings=parse_settings(args.set), dags=["daily_etl", "auto_trader"],
                           quiet=True) as stack:
            etl = stack.api.wait_for_run("daily_etl", stack.api.trigger("daily_etl", conf=conf), timeout=1800)
            assert etl["state"] == "success", etl
            shutil.copytree(root / "stack" / "pmx", root / "script", ignore=shutil.ignore_patterns("logs"))
            run_id = stack.api.trigger("auto_trader", conf=conf)
            run = stack.api.wait_for_run("auto_trader", run_id, timeout=1800, poll=0.5)
            assert run["state"] == "success", run
            tis = stack.api.task_instances("auto_trader", run_id)
        wall = run_seconds(run)
        ran = [ti for ti in tis if ti.get("start_date")]
        print(f"under the scheduler: {wall:6.1f} s trigger -> success, {len(ran)} task instances run, "
              f"{sum(ti.get('duration') or 0 for ti in ran):.1f} task-seconds")
        env = {**os.environ, "PMX_HOME": str(root / "script"), "PMX_LOG_DIR": str(root / "script" / "logs"),
               "PMX_STATSD_ENABLED": "false"}
        env.pop("PORTFOLIO_DB_PATH", None)
        cmd = [sys.executable, str(REPO / "scripts" / "run_auto_trader.py"), "--tickers", conf["tickers"],
               "--start-date", START, "--end-date", END, "--mode", "synthetic", "--run-id", "bench"]
        began = time.monotonic()
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        script = time.monotonic() - began
        print(f"as a script:         {script:6.1f} s (scripts/run_auto_trader.py, fresh interpreter)")
        print("  script said: " + " ".join(out.stdout.split())[:600])
        print(f"ratio scheduler / script: {wall / script:.2f}")


if __name__ == "__main__":
    main()
