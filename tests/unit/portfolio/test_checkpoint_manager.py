from __future__ import annotations

import json
import os
import time
from pathlib import Path

from foundation.pipeline_logger import read_events
from portfolio.checkpoint_manager import CheckpointManager


def test_save_load_and_completed_stages(pmx_home: Path) -> None:
    cm = CheckpointManager()
    pid = "daily_etl__manual__2026-11-25T10:00:00+00:00__AAPL"
    cm.save(pid, "extract", {"rows": 10, "path": "/x"})
    cm.save(pid, "validate", {"ok": True})
    assert cm.load(pid, "extract") == {"rows": 10, "path": "/x"}
    assert cm.completed_stages(pid) == ["extract", "validate"]
    assert cm.load(pid, "load") is None
    assert not list(cm.directory.rglob(".*.json.*")), "no temp files are left behind"


def test_tampered_checkpoint_is_rejected(pmx_home: Path) -> None:
    cm = CheckpointManager()
    path = cm.save("p", "extract", {"rows": 10})
    envelope = json.loads(path.read_text())
    envelope["state"]["rows"] = 11
    path.write_text(json.dumps(envelope))
    assert cm.load("p", "extract") is None
    assert cm.completed_stages("p") == []
    path.write_text("{truncated")
    assert cm.load("p", "extract") is None
    events = [e for e in read_events(pmx_home / "logs" / "pipeline") if e["event"] == "checkpoint_corrupt"]
    assert next(e["reason"] for e in events) == "sha256 mismatch"


def test_cleanup_honours_retention(pmx_home: Path) -> None:
    cm = CheckpointManager(retention_days=7)
    old = cm.save("old-run", "extract", {})
    cm.save("new-run", "extract", {})
    past = time.time() - 8 * 86400
    os.utime(old, (past, past))
    removed = cm.cleanup()
    assert [p.name for p in removed] == ["old-run"]
    assert cm.load("new-run", "extract") == {}
    assert cm.status()["pipelines"] == 1
