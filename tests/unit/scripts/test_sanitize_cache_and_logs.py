from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT
from foundation.pipeline_logger import get_logger, read_events
from portfolio.checkpoint_manager import CheckpointManager
from portfolio.data_sources.cache import DiskCache
from portfolio.database_manager import DatabaseManager
from scripts import sanitize_cache_and_logs as sanitize

DAY = 86400


def age(path: Path, days: float) -> None:
    stamp = time.time() - days * DAY
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (stamp, stamp))


@pytest.fixture
def cluttered(pmx_home: Path) -> dict[str, list[Path]]:
    """Old and fresh items of every category; returns what should be pruned."""
    import pandas as pd

    frame = pd.DataFrame({"date": pd.bdate_range("2024-01-02", periods=3), "open": 1.0, "high": 1.0,
                          "low": 1.0, "close": 1.0, "volume": 1.0})
    old_clock = DiskCache(ttl_hours=12, clock=lambda: time.time() - 13 * 3600)
    stale_csv = old_clock.put("fake", "OLD", date(2024, 1, 2), date(2024, 1, 4), frame)
    DiskCache().put("fake", "NEW", date(2024, 1, 2), date(2024, 1, 4), frame)

    log = get_logger()
    log.pipeline("something")
    live = log.stream_path("pipeline")
    old_log = live.with_name(live.name + ".20240101T000000Z")
    new_log = live.with_name(live.name + ".20990101T0Z")
    old_log.write_text("{}\n")
    new_log.write_text("{}\n")
    age(old_log, 8)

    cm = CheckpointManager()
    cm.save("old-pipeline", "extract", {"rows": 1})
    cm.save("new-pipeline", "extract", {"rows": 1})
    age(cm.directory / "old-pipeline", 8)

    staging = pmx_home / "data" / "staging"
    (staging / "old-run").mkdir(parents=True)
    (staging / "old-run" / "AAPL.csv").write_text("x")
    (staging / "new-run").mkdir()
    (staging / "new-run" / "AAPL.csv").write_text("x")
    age(staging / "old-run", 4)

    db = DatabaseManager()
    backups = []
    for i in range(9):
        backup = db.backups_dir / f"{db.path.stem}-2024010{i}T000000000000Z.db"
        backup.parent.mkdir(parents=True, exist_ok=True)
        backup.write_bytes(b"")
        backups.append(backup)
    assert stale_csv is not None
    return {"cache": [stale_csv, stale_csv.with_suffix(".json")], "logs": [old_log],
            "checkpoints": [cm.directory / "old-pipeline"], "staging": [staging / "old-run"],
            "db_backups": backups[:2]}


def test_help_exits_zero_from_the_command_line() -> None:
    script = REPO_ROOT / "scripts" / "sanitize_cache_and_logs.py"
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                          check=False, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "--dry-run" in proc.stdout


def test_dry_run_lists_and_deletes_nothing(pmx_home: Path, cluttered: dict[str, list[Path]],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert sanitize.main(["--dry-run"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["dry_run"] is True
    assert summary["counts"] == {k: len(v) for k, v in cluttered.items()}
    assert {k: sorted(v) for k, v in summary["paths"].items()} == {
        k: sorted(str(p) for p in v) for k, v in cluttered.items()}
    assert all(p.exists() for paths in cluttered.values() for p in paths)


def test_run_prunes_exactly_the_stale_items(pmx_home: Path, cluttered: dict[str, list[Path]]) -> None:
    before = {p for p in pmx_home.rglob("*") if p.is_file()}
    summary = sanitize.run()
    assert summary["total"] == sum(len(v) for v in cluttered.values())
    gone = {p for p in before if not p.exists()}
    assert all(not p.exists() for paths in cluttered.values() for p in paths)
    survivors = {p.relative_to(pmx_home).as_posix() for p in before - gone}
    assert any("NEW" in s for s in survivors) and any("new-pipeline" in s for s in survivors)
    assert any("new-run" in s for s in survivors) and any("20990101" in s for s in survivors)
    assert len(DatabaseManager().backups()) == 7
    events = [e for e in read_events(pmx_home / "logs" / "pipeline") if e["event"] == "sanitize_complete"]
    assert events[-1]["counts"] == summary["counts"] and events[-1]["dry_run"] is False


def test_staging_days_argument(pmx_home: Path, cluttered: dict[str, list[Path]]) -> None:
    age(pmx_home / "data" / "staging" / "new-run", 1)
    assert sanitize.run(dry_run=True, staging_days=10)["counts"]["staging"] == 0
    assert sanitize.run(dry_run=True, staging_days=2)["counts"]["staging"] == 1
    assert sanitize.run(dry_run=True, staging_days=0.5)["counts"]["staging"] == 2


@pytest.mark.parametrize("argv", [["--staging-days", "0"], ["--staging-days", "-3"]],
                         ids=["zero", "negative"])
def test_bad_retention_exits_2(pmx_home: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert sanitize.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "staging_days" in err


def test_unknown_option_exits_2(pmx_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        sanitize.main(["--everything"])
    assert info.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_malformed_yaml_exits_2(pmx_home: Path, config_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (config_copy / "pipeline.yml").write_text("logging: {dir: [\n")
    assert sanitize.main(["--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pipeline.yml" in err
