"""The background worker: never blocks a hook, drops and counts beyond its bound, drains on demand."""

from __future__ import annotations

import threading
import time

from listeners.worker import BackgroundWorker


def test_jobs_run_in_order_on_another_thread() -> None:
    worker = BackgroundWorker(10)
    seen: list[tuple[int, str]] = []
    for i in range(5):
        assert worker.submit("job", lambda i=i: seen.append((i, threading.current_thread().name)))
    assert worker.flush(5)
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4]
    assert {name for _, name in seen} == {"pmx-listener-worker"}
    assert worker.done == 5 and worker.pending == 0


def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    gate, started = threading.Event(), threading.Event()
    worker = BackgroundWorker(2)
    worker.submit("blocker", lambda: (started.set(), gate.wait()))
    assert started.wait(10)
    assert worker.flush(0.1) is False  # the blocker holds the thread
    accepted = [worker.submit("job", lambda: None) for _ in range(5)]
    assert accepted == [True, True, False, False, False] and worker.dropped == 3
    gate.set()
    assert worker.flush(5) and worker.done == 3


def test_a_failing_job_is_reported_and_the_worker_carries_on() -> None:
    errors: list[tuple[str, str]] = []
    worker = BackgroundWorker(10, on_error=lambda label, exc: errors.append((label, str(exc))))
    worker.submit("bad", lambda: 1 / 0)
    done = threading.Event()
    worker.submit("good", done.set)
    assert worker.flush(5) and done.is_set()
    assert errors == [("bad", "division by zero")]


def test_after_fork_forgets_the_parents_queue_and_thread() -> None:
    gate, started = threading.Event(), threading.Event()
    worker = BackgroundWorker(10)
    worker.submit("blocker", lambda: (started.set(), gate.wait()))
    worker.submit("queued", lambda: None)
    assert started.wait(10)  # the parent's thread is inside a job when the (simulated) fork happens
    worker.after_fork()
    assert worker.pending == 0 and worker.flush(0.1)
    ran = threading.Event()
    worker.submit("child", ran.set)
    assert worker.flush(5) and ran.is_set()
    gate.set()


def test_drain_runs_the_queue_in_the_callers_thread_after_the_running_job() -> None:
    gate, started = threading.Event(), threading.Event()
    worker = BackgroundWorker(10)
    seen: list[tuple[str, str]] = []
    name = threading.current_thread
    worker.submit("first", lambda: (started.set(), gate.wait(), seen.append(("first", name().name))))
    assert started.wait(10)
    for label in ("second", "third"):
        worker.submit(label, lambda label=label: seen.append((label, threading.current_thread().name)))
    assert worker.drain(0.2) is False  # the running job is not ours to interrupt
    threading.Timer(0.1, gate.set).start()
    assert worker.drain(10)
    me = threading.current_thread().name
    assert seen == [("first", "pmx-listener-worker"), ("second", me), ("third", me)]
    assert worker.pending == 0 and worker.done == 3


def test_a_fork_waits_for_the_job_in_progress() -> None:
    import os

    started, finished = threading.Event(), threading.Event()
    worker = BackgroundWorker(10)
    worker.submit("sqlite-like", lambda: (started.set(), time.sleep(0.3), finished.set()))
    assert started.wait(10)
    pid = os.fork()  # a job half-way through a C library call must never be cut by a fork
    if pid == 0:
        os._exit(0 if finished.is_set() else 1)
    assert finished.is_set()  # the fork only happened once the job was done
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert worker.flush(5)
