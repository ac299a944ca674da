"""Helpers shared by tests (import as ``from tests.support import ...``)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack import throwaway
from local_stack.stack import free_port as free_port  # re-exported: the tests take it from here
from local_stack.throwaway import POSTGRES_DSN, drop_postgres_database

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SPAWN = multiprocessing.get_context("spawn")  # fresh interpreters: no state inherited from the test process


def require(condition: bool, reason: str) -> None:
    """Skip locally when a dependency is missing, but fail in CI (``CI=true``): CI never skips."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, poll: float = 0.5) -> Any:
    """Poll ``condition`` until it returns something truthy and return that; fail naming ``what`` after
    ``timeout`` seconds. Timeouts are generous bounds for a loaded machine, never asserted timings."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


def reset_caches() -> None:
    """Forget every process-wide cache that depends on PMX_* environment variables."""
    from foundation import metrics, pipeline_logger
    from portfolio import database_manager, settings

    settings._cache.clear()
    database_manager.forget_ready_state()
    pipeline_logger._default = None
    pipeline_logger._default_key = None
    pipeline_logger.clear_context()
    metrics._client = None
    metrics._client_key = None
    from orchestration import config as orchestration_config
    from portfolio import secret_loader
    from portfolio.data_sources import http

    orchestration_config._cache.clear()
    from lineage import settings as lineage_settings

    lineage_settings._cache.clear()
    secret_loader.clear_cache()
    http.reset_network_state()


@contextlib.contextmanager
def isolated_run_home(home: Path) -> Iterator[Path]:
    """A project home for in-process ``dag.test()`` runs of a whole module: own data, logs and database, no
    ``CRON_*`` or config overrides, and an environment copy (tests may change it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "environ", os.environ.copy())
        mp.setenv("PMX_HOME", str(home))
        mp.setenv("PMX_LOG_DIR", str(home / "logs"))
        mp.setenv("PORTFOLIO_DB_PATH", str(home / "data" / "portfolio_maximizer.db"))
        for name in ("CRON_TICKERS", "CRON_START_DATE", "CRON_END_DATE", "CRON_EXEC_MODE", "PMX_CONFIG_DIR"):
            mp.delenv(name, raising=False)
        reset_caches()
        yield home
    reset_caches()


def run_in_processes(target: Callable[..., None], args: list[tuple[Any, ...]], timeout: float = 120) -> list[Any]:
    """Run ``target(*a, out)`` in a spawned process for each ``a``; return what each put on the queue ``out``."""
    out: multiprocessing.Queue[Any] = SPAWN.Queue()
    procs = [SPAWN.Process(target=target, args=(*a, out)) for a in args]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
    assert [p.exitcode for p in procs] == [0] * len(procs), "a process failed (its traceback is on stderr)"
    return [out.get(timeout=5) for _ in procs]


def received_lines(sock: socket.socket, quiet: float = 0.5) -> list[str]:
    """Every line datagrams brought to ``sock`` until it has been quiet for ``quiet`` seconds."""
    lines: list[str] = []
    sock.settimeout(quiet)
    try:
        while True:
            lines += sock.recv(65535).decode().splitlines()
    except TimeoutError:
        return lines


def _reachable(action: Callable[[], Any], what: str) -> Any:
    """``action()``; skips locally and fails in CI when the server it needs is not reachable."""
    import psycopg2

    try:
        return action()
    except psycopg2.OperationalError as exc:
        require(False, f"{what} not reachable: {exc}")
        raise


def create_postgres_database(prefix: str = "pmx_test") -> str:
    """Create an empty database ``<prefix>_<random>`` on the machine's PostgreSQL; return its name."""
    return _reachable(lambda: throwaway.create_postgres_database(prefix), "PostgreSQL on 127.0.0.1:5432")


@contextlib.contextmanager
def postgres_database(prefix: str = "pmx_test") -> Iterator[str]:
    """A throw-away PostgreSQL database for the block; yields its DSN and drops it afterwards."""
    name = create_postgres_database(prefix)
    try:
        yield f"{POSTGRES_DSN} dbname={name}"
    finally:
        drop_postgres_database(name)


@contextlib.contextmanager
def postgres_schema(database_dsn: str) -> Iterator[str]:
    """A fresh schema in the database of ``database_dsn`` for the block; yields a DSN whose ``search_path`` is it
    (an empty database for one test, without the cost of creating one)."""
    import psycopg2

    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(database_dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE SCHEMA "{schema}"')
        yield f"{database_dsn} options='-csearch_path={schema}'"
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()
