"""The ETL completes when ``logs/`` cannot be written: the event log degrades, the database gets the rows.

Run as the CLI in a real process. ``PMX_LOG_DIR`` points under a regular file (``ENOTDIR``, which root cannot
bypass, unlike ``chmod``) or under ``/sys`` (``EACCES`` for root too); the full-disk and read-only cases
(``ENOSPC`` / ``EROFS``) are faked at the ``os.write`` level in an in-process run.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from foundation import pipeline_logger
from foundation.paths import REPO_ROOT
from scripts import run_etl_pipeline

ARGS = ["--tickers", "AAPL,MSFT", "--start-date", "2025-06-02", "--end-date", "2025-09-30", "--mode", "synthetic",
        "--no-forecast"]


def _rows(pmx_home: Path) -> dict[str, int]:
    with sqlite3.connect(pmx_home / "data" / "portfolio_maximizer.db") as conn:
        return dict(conn.execute("SELECT ticker, COUNT(*) FROM ohlcv GROUP BY ticker").fetchall())


@pytest.mark.parametrize("log_dir", ["under-a-file", "/sys/pmx-logs"], ids=["enotdir", "sysfs-eacces"])
def test_the_cli_completes_with_an_unwritable_log_dir(pmx_home: Path, tmp_path: Path, log_dir: str) -> None:
    if log_dir == "under-a-file":
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where logs/ should be")
        log_dir = str(blocker / "logs")
    env = {**os.environ, "PMX_LOG_DIR": log_dir, "PMX_STATSD_ENABLED": "false"}
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "run_etl_pipeline.py"), *ARGS], env=env,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.count("portfolio event log: cannot write") == 1, proc.stderr
    assert json.loads(proc.stdout)["succeeded"] == 2
    rows = _rows(pmx_home)
    assert set(rows) == {"AAPL", "MSFT"} and min(rows.values()) > 50
    assert list((pmx_home / "data" / "checkpoints").rglob("*")), "checkpoints stay a hard requirement"
    assert not Path(log_dir).exists()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS], ids=["disk-full", "read-only"])
def test_a_full_or_read_only_disk_under_logs_does_not_fail_the_run(pmx_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   code: int) -> None:
    real_write = os.write
    logs = str(pmx_home / "logs")

    def write(fd: int, data: bytes) -> int:  # only the event-log streams hit the "full" disk
        if os.readlink(f"/proc/self/fd/{fd}").startswith(logs):
            raise OSError(code, os.strerror(code))
        return real_write(fd, data)

    monkeypatch.setattr(pipeline_logger.os, "write", write)
    assert run_etl_pipeline.main(ARGS) == 0
    err = capsys.readouterr().err
    assert err.count("portfolio event log: cannot write") == 1 and os.strerror(code) in err
    assert set(_rows(pmx_home)) == {"AAPL", "MSFT"}
