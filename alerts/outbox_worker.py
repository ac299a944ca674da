"""The outbox worker: a long-running process next to the scheduler and triggerer that delivers incidents.

``python -m alerts.outbox_worker`` (started by ``local_stack.stack.AirflowStack`` as component
``alerts-worker``, so ``make run`` / ``make up`` and the integration tests run it). One worker owns an
outbox at a time (an exclusive lock file); a second one waits as a standby. Each loop: plan deliveries of
new incidents, claim due deliveries into a thread pool (a hanging endpoint occupies one slot, not the loop),
and every few seconds resolve misses whose run has succeeded, check task budgets and data freshness
(:mod:`alerts.freshness_check`), and publish outbox gauges.

Other commands: ``--once`` (one pass, for scripts), ``--list`` (deliveries and dead letters),
``--replay-dead-letters [ID ...]``.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from alerts.alerting_config import load_alerting
from alerts.channels import build_channels, preload
from alerts.delivery import Claim, Deliverer
from alerts.outbox import Outbox
from foundation.failures import report_failure

if TYPE_CHECKING:
    from alerts.early_warning import EarlyWarning
    from alerts.freshness_check import AssetEventSource
    from alerts.incident import Incident
    from alerts.recovery import RunSource
    from alerts.run_facts import RunFactSource


def _log() -> Any:
    from foundation.pipeline_logger import get_logger

    return get_logger("alerts")


class OutboxWorker:
    """Delivers one outbox until stopped."""

    def __init__(self, outbox: Outbox | None = None, runs: RunSource | None = None,
                 facts: RunFactSource | None = None, assets: AssetEventSource | None = None) -> None:
        self.config = load_alerting()
        preload(self.config)
        self.outbox = outbox or Outbox()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{time.time():.0f}"
        self.runs = runs
        self.facts = facts
        self._early_warning: EarlyWarning | None = None
        self.deliverer = Deliverer(self.outbox, self.config, build_channels(self.config), self.owner,
                                   enrich=self._diagnosed)
        self.assets = assets
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.pool = ThreadPoolExecutor(
            max_workers=self.config.worker.concurrency, thread_name_prefix="deliver"
        )
        self.in_flight: dict[int, Future[str]] = {}
        self._owner_lock = self.outbox.owner_lock()
        self._next_runs_check = 0.0
        self._next_metrics = 0.0
        self._next_beat = 0.0

    # -- ownership -----------------------------------------------------------------------------------------
    def acquire(self, wait: bool = True) -> bool:
        """Take the outbox's exclusive worker lock (waiting as a standby if another worker holds it).

        SQLite: a lock file next to the outbox; PostgreSQL: an advisory lock, so one worker owns the outbox
        across every host. An unreachable database is reported and retried while waiting.
        """
        announced = False
        while not self.stop_event.is_set():
            try:
                if self._owner_lock.try_acquire():
                    return True
            except Exception as exc:
                report_failure("alerts", "owner_lock", exc, level="error", outbox=self.outbox.describe())
                self._owner_lock.release()
            if not wait:
                return False
            if not announced:
                _log().log_event("alert_worker_standby", outbox=self.outbox.describe())
                announced = True
            self.stop_event.wait(1.0)
        return False

    # -- loop ----------------------------------------------------------------------------------------------
    def run_once(self) -> None:
        """One pass: plan, claim and dispatch, periodic checks."""
        self._reap()
        self.deliverer.plan()
        free = self.config.worker.concurrency - len(self.in_flight)
        for claim in self.deliverer.claim_due(free, exclude=set(self.in_flight)):
            self.in_flight[claim.delivery_id] = self.pool.submit(self._execute, claim)
        now = time.time()
        if now >= self._next_beat:
            self._next_beat = now + self.config.worker.heartbeat_seconds
            self.beat(now)
        if now >= self._next_runs_check:
            self._next_runs_check = now + self.config.worker.run_check_interval_seconds
            self._check_runs()
        if now >= self._next_metrics:
            self._next_metrics = now + self.config.worker.metrics_interval_seconds
            self.publish_gauges()

    def beat(self, now: float | None = None) -> None:
        """Record the stack as alive (``docs/slas.md#first-start-and-downtime``); log an outage it ends."""
        try:
            outage = self.outbox.beat(now, self.config.worker.outage_after_seconds)
        except Exception as exc:
            report_failure("alerts", "heartbeat", exc, level="error")
            return
        if outage:
            from datetime import UTC, datetime

            from alerts.times import iso_z

            down_from, down_until = (iso_z(datetime.fromtimestamp(t, UTC)) for t in outage)
            _log().log_event("stack_outage_recorded", level="warning", down_from=down_from, down_until=down_until,
                             seconds=round(outage[1] - outage[0], 1))

    def _execute(self, claim: Claim) -> str:
        try:
            return self.deliverer.execute(claim)
        except Exception as exc:
            report_failure("alerts", "deliver", exc, level="error", kind=claim.incident.kind,
                           dedup_key=claim.incident.dedup_key, dag_id=claim.incident.dag_id)
            return "error"
        finally:
            self.wake.set()

    def _reap(self) -> None:
        for delivery_id, fut in list(self.in_flight.items()):
            if fut.done():
                del self.in_flight[delivery_id]
                if fut.result() == "error":  # give the row back: it is reconciled and retried
                    self.deliverer.release(delivery_id)

    def _check_runs(self) -> None:
        try:
            from alerts.recovery import AirflowRuns, check_recoveries, check_task_budgets
            from alerts.sla_config import load_sla_config, runbook_base

            runs = self.runs or AirflowRuns()
            check_recoveries(self.outbox, runs)
            check_task_budgets(load_sla_config().task_budgets, runs, self.config.link_base(), runbook_base())
        except Exception as exc:
            report_failure("alerts", "run_check", exc, level="error")
        try:
            self.early_warning().clear()
            self.early_warning().check()
        except Exception as exc:
            report_failure("alerts", "early_warning", exc, level="error")
        self.check_freshness()

    def early_warning(self) -> EarlyWarning:
        """The early-warning check of this worker (built on first use: it reads the SLA config's runbook base)."""
        if self._early_warning is None:
            from alerts.early_warning import EarlyWarning
            from alerts.run_facts import AirflowRunFacts
            from alerts.sla_config import runbook_base

            routing = {str(severity): names for severity, names in self.config.routing.items()}
            self._early_warning = EarlyWarning(self.facts or AirflowRunFacts(), self.outbox, routing,
                                               self.config.link_base(), runbook_base())
        return self._early_warning

    def _diagnosed(self, incident: Incident) -> Incident:
        """An SLA miss with its diagnosis (the deliverer's ``enrich``: failures are counted there)."""
        from alerts.early_warning import DIAGNOSED_KIND

        if incident.kind != DIAGNOSED_KIND:  # other kinds need no Airflow metadata: do not build the check
            return incident
        return self.early_warning().diagnosed(incident)

    def check_freshness(self) -> None:
        """Judge the freshness SLAs on Airflow's Asset events (docs/slas.md#freshness); failures are counted."""
        try:
            from alerts.freshness_check import AirflowAssets, run_freshness_check

            run_freshness_check(self.outbox, self.assets or AirflowAssets())
        except Exception as exc:
            report_failure("alerts", "freshness_check", exc, level="error")

    def publish_gauges(self) -> dict[str, float]:
        """Outbox depth, oldest undelivered age and per-SLA lateness of open misses as StatsD gauges, and the
        worker's heartbeat: one per loop pass that got this far (``PmxAlertsWorkerDown`` fires when it stops)."""
        from alerts.recovery import lateness_of_open_misses
        from foundation.metrics import get_client

        client = get_client()
        client.incr("alerts.worker_heartbeat")
        stats = self.outbox.stats()
        client.gauge("alerts.outbox_depth", stats["depth"])
        client.gauge("alerts.outbox_oldest_age", round(stats["oldest_age"], 3))
        for dag_id, sla, seconds in lateness_of_open_misses(self.outbox):
            client.gauge("sla.lateness", round(seconds, 3), tags={"dag_id": dag_id, "sla": sla})
        return stats

    def serve(self) -> None:
        """Run until SIGTERM/SIGINT; in-flight deliveries finish (bounded by the HTTP timeout)."""
        if not self.acquire():
            return
        self.beat()  # first: a deadline callback of the first minutes must see the stack alive
        self._next_beat = time.time() + self.config.worker.heartbeat_seconds
        taken = self.deliverer.take_over_in_doubt()
        _log().log_event(
            "alert_worker_started", owner=self.owner, outbox=self.outbox.describe(), in_doubt=taken
        )
        while not self.stop_event.is_set():
            try:
                self.run_once()
            except Exception as exc:
                report_failure("alerts", "loop", exc, level="error")
                self.stop_event.wait(1.0)
            self.wake.wait(self.config.worker.poll_interval_seconds)
            self.wake.clear()
        self.pool.shutdown(wait=True, cancel_futures=True)
        _log().log_event("alert_worker_stopped", owner=self.owner)

    def stop(self, *_: Any) -> None:
        """Ask the loop to finish."""
        self.stop_event.set()
        self.wake.set()


def _list(outbox: Outbox) -> None:
    for r in outbox.delivery_listing():
        print(
            f"{r['id']:>6} {r['status']:<12} {r['channel']:<14} {r['action']:<8} tries={r['attempts']:<3} "
            f"{r['kind']} {r['dedup_key']} {r['last_error'] or ''}"
        )


def main(argv: list[str] | None = None) -> int:
    """Command line entrypoint."""
    parser = argparse.ArgumentParser(
        prog="alerts.outbox_worker", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument("--list", action="store_true", help="print deliveries and exit")
    parser.add_argument(
        "--replay-dead-letters", nargs="*", type=int, metavar="ID", help="requeue dead letters"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")  # Connections come from the metadata DB
    for noisy in ("httpx", "httpx2", "slack_sdk", "pagerduty"):  # one line per request is noise, not news
        logging.getLogger(noisy).setLevel(logging.WARNING)
    worker = OutboxWorker()
    if args.list:
        _list(worker.outbox)
        return 0
    if args.replay_dead_letters is not None:
        print(
            f"requeued {worker.deliverer.replay_dead_letters(args.replay_dead_letters or None)} dead letters"
        )
        return 0
    if args.once:
        if not worker.acquire(wait=False):
            print("another worker owns this outbox; --once not run", file=sys.stderr)
            return 1
        worker.deliverer.take_over_in_doubt()
        worker.run_once()
        worker.pool.shutdown(wait=True)
        return 0
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>` dumps every thread's stack
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
