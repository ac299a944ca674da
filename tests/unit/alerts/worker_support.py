"""Driving an :class:`alerts.outbox_worker.OutboxWorker` pass by pass in unit tests."""

from __future__ import annotations

import time
from typing import Any

from alerts.outbox_worker import OutboxWorker


def run_until(worker: OutboxWorker, done: Any, timeout: float = 30) -> None:
    """Run worker passes until ``done()`` is true (AssertionError after ``timeout`` seconds)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        worker.run_once()
        if done():
            return
        time.sleep(0.05)
    raise AssertionError("worker did not get there")
