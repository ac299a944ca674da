"""DAG-folder parse time: per file (cold, in a fresh interpreter, and warm, in one process) and in total.

Prints numbers only. Run: ``.venv/bin/python bench/dag_parse.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DAGS = REPO / "dags"

COLD = """
import json, sys, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"airflow_import_s": t1 - t0, "parse_s": t2 - t1, "errors": len(bag.import_errors),
                  "dags": len(bag.dags)}))
"""


def airflow_env(home: Path) -> dict[str, str]:
    """Environment of a throw-away Airflow home configured from config/airflow.yml."""
    sys.path.insert(0, str(REPO))
    from local_stack.airflow_env import StackLayout, stack_environment

    env = stack_environment(StackLayout(home=home, pmx_home=home / "pmx"))
    env["PMX_STATSD_ENABLED"] = "false"
    env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"  # no "Filling up the DagBag" line per parse
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="cold runs per file (median reported)")
    args = parser.parse_args()
    files = sorted(DAGS.rglob("*.py"))
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as tmp:
        env = airflow_env(Path(tmp))
        os.environ.update(env)
        print(f"{len(files)} DAG files, cold = fresh interpreter (median of {args.repeat}), "
              "warm = same process, shared imports already loaded")
        print(f"{'file':<45} {'cold parse ms':>14} {'warm parse ms':>14}")
        from airflow.dag_processing.dagbag import DagBag

        DagBag(dag_folder=str(files[0]))  # warm the shared imports (airflow, orchestration, pydantic, yaml)
        cold_total = warm_total = 0.0
        for path in files:
            cold = []
            for _ in range(args.repeat):
                out = subprocess.run([sys.executable, "-c", COLD, str(path)], env=env, capture_output=True,
                                     text=True, check=True).stdout
                result = json.loads(out.strip().splitlines()[-1])
                assert result["errors"] == 0, path
                cold.append(result["parse_s"])
            start = time.perf_counter()
            DagBag(dag_folder=str(path))
            warm = time.perf_counter() - start
            cold_ms, warm_ms = statistics.median(cold) * 1000, warm * 1000
            cold_total += cold_ms
            warm_total += warm_ms
            print(f"{path.relative_to(REPO)!s:<45} {cold_ms:>14.1f} {warm_ms:>14.1f}")
        start = time.perf_counter()
        bag = DagBag(dag_folder=str(DAGS))
        folder = time.perf_counter() - start
        print(f"{'sum of files':<45} {cold_total:>14.1f} {warm_total:>14.1f}")
        print(f"whole folder in one warm DagBag: {folder * 1000:.1f} ms for {len(bag.dags)} DAGs, "
              f"{len(bag.import_errors)} import errors")


if __name__ == "__main__":
    main()
