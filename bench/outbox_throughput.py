"""Alert outbox throughput on SQLite and on PostgreSQL: incidents per second submitted and delivered.

For each backend, in a fresh home: ``--writers`` processes submit ``--incidents`` warning incidents between them
through ``alerts.router.submit`` (what a task's listener or a deadline callback does); then the outbox worker
(``python -m alerts.outbox_worker``, the shipped ``config/alerting.yml``) delivers each to its two channels, a
local Slack stand-in (``tests/harness/receivers.py``, the ``slack_alerts`` Connection from the environment) and
the local file. Prints submitted/s (first submit -> last commit) and delivered/s (worker start -> every delivery
recorded). PostgreSQL: a throw-away database on 127.0.0.1:5432 (user postgres), dropped afterwards.

    .venv/bin/python bench/outbox_throughput.py [--incidents 2000] [--writers 2] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from private_stack import REPO

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throw-away database; yields its DSN."""
    import psycopg2

    name = f"pmx_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_ADMIN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"host=127.0.0.1 port=5432 user=postgres dbname={name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _submit(env: dict[str, str], first: int, count: int, start: float, out: multiprocessing.Queue) -> None:
    os.environ.update(env)
    from alerts.incident import Incident
    from alerts.router import submit

    while time.time() < start:
        time.sleep(0.001)
    for n in range(first, first + count):
        submit(Incident(kind="bench", dedup_key=f"bench/{n}", severity="warning", summary=f"bench incident {n}"))
    out.put(time.time())


def _delivered(env: dict[str, str]) -> int:
    os.environ.update(env)
    from alerts.outbox import Outbox

    with Outbox().connect() as conn:
        return int(conn.execute("SELECT count(*) FROM deliveries WHERE status = 'delivered'").fetchone()[0])


def one(backend: str, incidents: int, writers: int, dsn: str | None) -> tuple[float, float]:
    sys.path.insert(0, str(REPO))
    from tests.harness.receivers import SlackStandIn

    slack = SlackStandIn().start()
    with tempfile.TemporaryDirectory(prefix=f"bench-outbox-{backend}-") as home:
        env = {"PMX_HOME": home, "PMX_LOG_DIR": f"{home}/logs", "PMX_STATSD_ENABLED": "false",
               "PYTHONPATH": str(REPO),
               "AIRFLOW_CONN_SLACK_ALERTS": json.dumps({"conn_type": "slack", "password": slack.token,
                                                        "extra": {"base_url": slack.api_url}})}
        if dsn:
            env["PMX_ALERTS_OUTBOX_DSN"] = dsn
        ctx = multiprocessing.get_context("spawn")
        done: multiprocessing.Queue = ctx.Queue()
        start = time.time() + 3  # every writer imported and waiting
        per = incidents // writers
        procs = [ctx.Process(target=_submit, args=(env, w * per, per, start, done)) for w in range(writers)]
        for proc in procs:
            proc.start()
        ends = [done.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join()
        submitted = per * writers / (max(ends) - start)
        print(f"  {backend}: {per * writers} incidents submitted by {writers} processes", flush=True)

        worker = subprocess.Popen([sys.executable, "-m", "alerts.outbox_worker"], cwd=REPO,
                                  env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        began = time.time()
        try:
            want = 2 * per * writers  # Slack and the local file
            while (got := _delivered(env)) < want:
                if worker.poll() is not None:
                    raise SystemExit(f"the outbox worker exited ({worker.returncode}) after {got}/{want}")
                time.sleep(0.2)
            delivered = per * writers / (time.time() - began)
        finally:
            worker.terminate()
            worker.wait(30)
            slack.stop()
    return submitted, delivered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    results = {}
    for backend in args.backends.split(","):
        if backend == "postgresql":
            with postgres_database() as dsn:
                results[backend] = one(backend, args.incidents, args.writers, dsn)
        else:
            results[backend] = one(backend, args.incidents, args.writers, None)
    for backend, (submitted, delivered) in results.items():
        print(f"{backend:<11} submitted {submitted:8.1f} incidents/s   delivered {delivered:8.1f} incidents/s "
              f"(2 channels each)")


if __name__ == "__main__":
    main()
