"""A locked database is not a corrupt one: two real processes, WAL and rollback-journal modes.

One process holds ``BEGIN EXCLUSIVE`` (and writes a row) while the other opens the database through the
project's code: ``scripts/run_auto_trader.py`` or a ``DatabaseManager`` write. The opener must fail clearly
after its busy timeout, and the file must be left alone: same inode, no ``.corrupt-*`` copy, every row still
there, and the holder's own commit landing in the live file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT
from foundation.pipeline_logger import read_events
from portfolio.database_manager import DatabaseManager, forget_ready_state

BARS = 60
HOLDER = textwrap.dedent("""
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    print(conn.execute("PRAGMA journal_mode = " + sys.argv[2]).fetchone()[0], flush=True)
    conn.execute("BEGIN EXCLUSIVE")
    conn.execute("INSERT INTO ohlcv VALUES ('HOLD', '2020-01-01', 1, 2, 0.5, 1.5, 100, 'holder', 't')")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("COMMIT")
    print("committed", flush=True)
""")
WRITER = textwrap.dedent("""
    from portfolio.database_manager import DatabaseManager
    with DatabaseManager().transaction() as conn:
        conn.execute("INSERT INTO ohlcv VALUES ('NEW', '2020-01-01', 1, 2, 0.5, 1.5, 100, 'writer', 't')")
""")


def _seed(db: DatabaseManager) -> None:
    with db.transaction() as conn:
        for i in range(BARS):
            close = 100 + i * 0.1
            conn.execute("INSERT INTO ohlcv VALUES ('AAPL', date('2025-01-01', ?), ?, ?, ?, ?, 1000, 'synthetic', 't')",
                         (f"+{i} days", close, close + 1, close - 1, close + 0.5))


@pytest.fixture
def holder(pmx_home: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A second process holding an exclusive lock on a seeded database, in the requested journal mode."""
    db = DatabaseManager()
    _seed(db)
    forget_ready_state()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db.path), request.param], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == request.param.lower()
    assert proc.stdout.readline().strip() == "locked"
    yield db.path, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _open_while_locked(opener: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if opener == "run_auto_trader":
        argv = [sys.executable, str(REPO_ROOT / "scripts" / "run_auto_trader.py"), "--tickers", "AAPL",
                "--mode", "synthetic"]
    else:
        argv = [sys.executable, "-c", WRITER]
    return subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("holder", ["DELETE", "WAL"], ids=["rollback-journal", "wal"], indirect=True)
@pytest.mark.parametrize("opener", ["run_auto_trader", "database_manager"])
def test_a_locked_database_fails_the_caller_and_is_left_alone(holder: tuple[Path, subprocess.Popen[str]],
                                                              opener: str, pmx_home: Path) -> None:
    path, proc = holder
    inode = path.stat().st_ino
    env = {**os.environ, "PORTFOLIO_DB_BUSY_TIMEOUT_MS": "1000", "PMX_STATSD_ENABLED": "false"}
    result = _open_while_locked(opener, env)

    assert result.returncode != 0
    assert "database is locked" in result.stderr and "the database was not changed" in result.stderr, result.stderr
    assert str(path) in result.stderr and "PORTFOLIO_DB_BUSY_TIMEOUT_MS" in result.stderr
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "committed"
    assert proc.wait(30) == 0

    assert path.stat().st_ino == inode, "the live file was replaced"
    assert not list(path.parent.glob("*.corrupt-*")), "the live file was moved aside"
    forget_ready_state()
    with DatabaseManager().connect() as conn:
        rows = dict(conn.execute("SELECT ticker, COUNT(*) FROM ohlcv GROUP BY ticker").fetchall())
    assert rows == {"AAPL": BARS, "HOLD": 1}, "the holder's commit must land in the live file, nothing lost"
    names = {e["event"] for s in ("events", "errors") for e in read_events(pmx_home / "logs" / "pipeline", s)}
    assert not names & {"db_recovered", "db_recreated"}
