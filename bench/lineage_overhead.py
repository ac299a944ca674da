"""Lineage on vs off under the real scheduler, A-B-B-A: daily_etl (50 tickers x 5 years, synthetic) and
portfolio_master (3 tickers), each on a private stack with ``[openlineage] disabled`` false (A) or true (B).

Prints each run's trigger -> success, the ratio on/off per DAG, and the events written (count, mean and max
size). Target (issue 13): on / off <= 1.10.

    .venv/bin/python bench/lineage_overhead.py [--tickers 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from private_stack import private_stack, run_seconds, synthetic_tickers

DAGS = ("daily_etl", "portfolio_master")


def one(lineage: bool, tickers: int) -> tuple[dict[str, float], list[int]]:
    conf = {"execution_mode": "synthetic", "tickers": synthetic_tickers(tickers),
            "start_date": "2020-01-01", "end_date": "2024-12-31"}
    settings = {"openlineage.disabled": str(not lineage).lower()}
    with tempfile.TemporaryDirectory(prefix="bench-lineage-") as tmp, \
            private_stack(Path(tmp), settings=settings, dags=list(DAGS), quiet=True) as stack:
        walls = {}
        for dag_id in DAGS:
            run_id = stack.api.trigger(dag_id, conf=conf if dag_id == "daily_etl" else {"execution_mode": "synthetic"})
            run = stack.api.wait_for_run(dag_id, run_id, timeout=1800, poll=0.5)
            assert run["state"] == "success", run
            walls[dag_id] = run_seconds(run)
        events = Path(tmp) / "airflow" / "openlineage" / "events.jsonl"
        sizes = [len(line.encode()) for line in events.read_text().splitlines()] if events.exists() else []
    return walls, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=50)
    args = parser.parse_args()
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for lineage in (True, False, False, True):  # A-B-B-A
        walls, sizes = one(lineage, args.tickers)
        results[lineage].append(walls)
        said = (f"{len(sizes)} events, mean {statistics.mean(sizes) / 1024:.1f} KB, max {max(sizes) / 1024:.1f} KB"
                if sizes else "no events")
        print(f"lineage {'on ' if lineage else 'off'}: " + ", ".join(f"{d} {w:6.1f} s" for d, w in walls.items())
              + f"   ({said})", flush=True)
    for dag_id in DAGS:
        on = statistics.mean(w[dag_id] for w in results[True])
        off = statistics.mean(w[dag_id] for w in results[False])
        print(f"{dag_id:<17} on {on:6.1f} s   off {off:6.1f} s   on / off {on / off:5.2f}")
    print(json.dumps({"target": "on / off <= 1.10"}))


if __name__ == "__main__":
    main()
