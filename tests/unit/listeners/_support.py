"""Helpers of the listener tests: a UDP StatsD receiver, event reading, Airflow-shaped fakes."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from foundation.pipeline_logger import read_events


class UdpReceiver:
    """Collects every StatsD line sent to it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.packets: list[str] = []
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self.packets.append(self.sock.recv(65535).decode())
            except OSError:
                return

    def lines(self, prefix: str = "", settle: float = 0.2) -> list[str]:
        """Every line received (after ``settle`` seconds for in-flight datagrams), optionally filtered."""
        time.sleep(settle)
        return [x for p in list(self.packets) for x in p.splitlines() if x.startswith(prefix)]


def listener_events(home: Path, stream: str | None = None) -> list[dict[str, Any]]:
    """The listener's events of one stream (or of ``pipeline`` + ``events``), in time order."""
    streams = [stream] if stream else ["pipeline", "events"]
    found = [e for s in streams for e in read_events(home / "logs" / "pipeline", s)  # type: ignore[arg-type]
             if e.get("component") == "listener"]
    return sorted(found, key=lambda e: e["ts"])


def fake_ti(task_id: str = "extract", *, state: str = "running", try_number: int = 1, max_tries: int = 1,
            map_index: int = -1, dag_id: str = "daily_etl", run_id: str = "manual__1", seconds: float = 2.0,
            run_type: str = "manual", end: bool = True) -> SimpleNamespace:
    """What a ``RuntimeTaskInstance`` offers the hooks (no duration, pool or operator attribute)."""
    start = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    context = SimpleNamespace(dag_run=SimpleNamespace(run_type=SimpleNamespace(value=run_type)))
    return SimpleNamespace(dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=map_index,
                           try_number=try_number, max_tries=max_tries, state=SimpleNamespace(value=state),
                           start_date=start, end_date=start + timedelta(seconds=seconds) if end else None,
                           _ti_context_from_server=context)


def fake_run(state: str = "running", *, dag_id: str = "daily_etl", run_id: str = "manual__1",
             seconds: float = 30.0) -> SimpleNamespace:
    """An object with what the scheduler's ``DagRun`` offers the DAG-run hooks."""
    start = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    return SimpleNamespace(dag_id=dag_id, run_id=run_id, run_type="manual", state=state,
                           queued_at=start - timedelta(seconds=0.25), start_date=start,
                           end_date=None if state == "running" else start + timedelta(seconds=seconds))
