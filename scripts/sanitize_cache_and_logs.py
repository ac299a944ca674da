"""Daily clean-up: data-source cache entries past their TTL, rotated logs and checkpoints past retention,
staging runs older than N days and database backups beyond the configured number to keep.

With --dry-run nothing is deleted: the summary lists what would be.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from scripts.entrypoint import cli_main, make_parser

NAME = "sanitize_cache_and_logs"
SHOWN = 20


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    parser.add_argument("--staging-days", type=float,
                        help="delete staging runs older than this many days "
                             "(default data_sources.staging_retention_days)")
    return parser


def _older_than(path: Path, cutoff: float) -> bool:
    mtimes = [p.stat().st_mtime for p in path.rglob("*") if p.is_file()] or [path.stat().st_mtime]
    return max(mtimes) < cutoff


def rotated_logs(now: float) -> list[Path]:
    """Rotated pipeline log files older than ``logging.retention_days``."""
    from foundation.pipeline_logger import STREAMS, get_logger

    log = get_logger()
    cutoff = now - log.retention_days * 86400
    found: list[Path] = []
    for stream in STREAMS:
        live = log.stream_path(stream)
        found += [p for p in sorted(live.parent.glob(live.name + ".*"))
                  if not p.name.endswith(".lock") and p.stat().st_mtime < cutoff]
    return found


def old_checkpoints(now: float) -> list[Path]:
    """Checkpoint folders whose newest checkpoint is older than ``checkpoints.retention_days``."""
    from portfolio.checkpoint_manager import CheckpointManager

    cm = CheckpointManager()
    cutoff = now - cm.retention_days * 86400
    if not cm.directory.exists():
        return []
    return [d for d in sorted(cm.directory.iterdir()) if d.is_dir()
            and max([p.stat().st_mtime for p in d.glob("*.json")] or [d.stat().st_mtime]) < cutoff]


def old_staging(now: float, days: float) -> list[Path]:
    """Staging run folders with nothing newer than ``days``."""
    from foundation import paths
    from portfolio.settings import load_settings

    root = paths.resolve(load_settings().data_sources.staging_dir)
    if not root.exists():
        return []
    return [d for d in sorted(root.iterdir()) if d.is_dir() and _older_than(d, now - days * 86400)]


def extra_backups() -> list[Path]:
    """Database backups beyond ``database.backups_keep`` (oldest ones)."""
    from portfolio.database_manager import DatabaseManager

    db = DatabaseManager()
    return db.backups()[db.backups_keep:]


def run(*, dry_run: bool = False, staging_days: float | None = None) -> dict[str, Any]:
    """Prune every category (or only list with ``dry_run``); return counts and the first paths of each."""
    from foundation.pipeline_logger import get_logger
    from portfolio.checkpoint_manager import CheckpointManager
    from portfolio.data_sources.cache import DiskCache
    from portfolio.params import ParameterError
    from portfolio.settings import load_settings

    if staging_days is not None and staging_days <= 0:
        raise ParameterError(f"staging_days={staging_days}: must be > 0")
    days = staging_days if staging_days is not None else load_settings().data_sources.staging_retention_days
    now = time.time()
    found = {"cache": DiskCache().stale_entries(now), "logs": rotated_logs(now),
             "checkpoints": old_checkpoints(now), "staging": old_staging(now, days),
             "db_backups": extra_backups()}
    if not dry_run:
        DiskCache().prune(now=now)
        get_logger().cleanup()
        CheckpointManager().cleanup(now=now)
        for folder in found["staging"]:
            shutil.rmtree(folder, ignore_errors=True)
        for backup in found["db_backups"]:
            backup.unlink(missing_ok=True)
    counts = {k: len(v) for k, v in found.items()}
    get_logger(NAME).log_event("sanitize_complete", dry_run=dry_run, counts=counts, staging_days=days)
    return {"dry_run": dry_run, "counts": counts, "total": sum(counts.values()),
            "paths": {k: [str(p) for p in v[:SHOWN]] for k, v in found.items() if v}}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 on success, 1 if a deletion failed, 2 on bad arguments or config."""
    return cli_main(NAME, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
