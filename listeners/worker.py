"""A background thread with a bounded queue: work a hook must not wait for (SQLite threshold checks, alert
routing, DNS). A full queue drops the job and counts it; a task process drains the queue, with a time limit,
in ``before_stopping`` because it exits right after its last hook.

Fork safety: Airflow processes fork (LocalExecutor workers, task supervisors, task runners) and so does task
code (multiprocessing). A child forked while a job is inside SQLite or the resolver would inherit a held C
mutex and hang at its first SQLite call. So every job runs under a lock that ``os.fork()`` takes first (before
handler, at most :data:`FORK_WAIT_SECONDS`): no job is ever half-way through when a process forks.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

Job = Callable[[], Any]
FORK_WAIT_SECONDS = 5.0


class BackgroundWorker:
    """One daemon thread, started on the first job; ``submit`` never blocks."""

    def __init__(self, maxsize: int, on_error: Callable[[str, BaseException], None] | None = None,
                 name: str = "pmx-listener-worker") -> None:
        self.maxsize = maxsize
        self.name = name
        self.on_error = on_error
        self.dropped = 0
        self.done = 0
        self.cpu_seconds = 0.0  # CPU time spent in jobs (the listener's own cost, off the hooks)
        self._fork_lock = threading.RLock()
        self._fork_held = False
        self._reset()
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)
            os.register_at_fork(before=lambda: _each(ref, "_before_fork"),
                                after_in_parent=lambda: _each(ref, "_after_fork_parent"),
                                after_in_child=lambda: _each(ref, "_after_fork_child"))

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._jobs: deque[tuple[str, Job]] = deque()
        self._busy = False
        self._draining = 0  # callers inside drain(): the worker thread takes no new job meanwhile
        self._thread: threading.Thread | None = None

    def after_fork(self) -> None:
        """Forget queue, locks and thread inherited from the parent (a forked child has no such thread)."""
        self._fork_lock = threading.RLock()
        self._fork_held = False
        self._reset()

    def _before_fork(self) -> None:
        self._fork_held = self._fork_lock.acquire(timeout=FORK_WAIT_SECONDS)

    def _after_fork_parent(self) -> None:
        if self._fork_held:
            self._fork_held = False
            self._fork_lock.release()

    def _after_fork_child(self) -> None:
        self.after_fork()

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return len(self._jobs) + (1 if self._busy else 0)

    def submit(self, label: str, job: Job) -> bool:
        """Queue ``job``; return False (and count a drop) when the queue is full."""
        with self._cond:
            if len(self._jobs) >= self.maxsize:
                self.dropped += 1
                return False
            self._jobs.append((label, job))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return True

    def _loop(self) -> None:
        cond = self._cond  # after_fork() swaps in a new condition: a thread of the old one then stops
        while True:
            with cond:
                while cond is self._cond and (not self._jobs or self._busy or self._draining):
                    cond.wait()
                if cond is not self._cond:
                    return
                label, job = self._jobs.popleft()
                self._busy = True
            try:
                self._run(label, job)
            finally:
                with cond:
                    if cond is self._cond:
                        self._busy = False
                        cond.notify_all()

    def _run(self, label: str, job: Job) -> None:
        started = time.thread_time()
        try:
            with self._fork_lock:  # a fork waits until this job is done (see the module docstring)
                job()
        except Exception as exc:  # one bad job must not kill the worker
            if self.on_error is not None:
                with contextlib.suppress(Exception):
                    self.on_error(label, exc)
        finally:
            self.cpu_seconds += time.thread_time() - started
            self.done += 1

    def drain(self, timeout: float) -> bool:
        """Run every queued job in the calling thread, in order, after the one in progress (no hand-off).

        A process about to exit calls this: it costs the jobs' own time, without waiting for the worker
        thread to be scheduled. True when nothing is left within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            self._draining += 1
            try:
                while self._busy:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
            finally:
                self._draining -= 1
            self._busy = True  # the worker thread keeps off while the caller runs the jobs
        try:
            while time.monotonic() < deadline:
                with self._cond:
                    if not self._jobs:
                        return True
                    label, job = self._jobs.popleft()
                self._run(label, job)
            return not self._jobs
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued job ran, at most ``timeout`` seconds; True when the queue is empty."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._jobs or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True


def _each(ref: weakref.ref[BackgroundWorker], method: str) -> None:
    worker = ref()
    if worker is not None:
        with contextlib.suppress(Exception):
            getattr(worker, method)()
