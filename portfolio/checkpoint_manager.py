"""Atomic, SHA-256 validated checkpoints so that a retried pipeline resumes after its last completed stage.

Layout: ``<dir>/<pipeline_id>/<stage>.json`` holding ``{pipeline_id, stage, created_at, sha256, state}``.
Writes go to a temp file in the same directory, are fsynced and renamed into place. A checkpoint whose hash
does not match is reported (``checkpoint_corrupt``) and treated as absent.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

from foundation import paths
from foundation.atomic_io import write_atomic
from foundation.pipeline_logger import PipelineLogger, get_logger, utc_now_iso

_SAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


def safe_name(text: str) -> str:
    """A file-system safe rendering of ``text`` (run ids contain ``:`` and ``+``)."""
    return _SAFE.sub("_", text).strip("._") or "_"


def _digest(state: Any) -> str:
    canonical = json.dumps(state, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class CheckpointManager:
    """Saves and loads per-stage checkpoints of named pipeline runs."""

    def __init__(self, directory: Path | str | None = None, *, retention_days: float | None = None,
                 logger: PipelineLogger | None = None) -> None:
        if directory is None or retention_days is None:
            from portfolio.settings import load_settings

            cfg = load_settings().checkpoints
            directory = directory or paths.resolve(cfg.dir)
            retention_days = retention_days if retention_days is not None else cfg.retention_days
        self.directory = Path(directory)
        self.retention_days = retention_days
        self.log = logger or get_logger("checkpoints")

    def _path(self, pipeline_id: str, stage: str) -> Path:
        return self.directory / safe_name(pipeline_id) / f"{safe_name(stage)}.json"

    def save(self, pipeline_id: str, stage: str, state: dict[str, Any]) -> Path:
        """Atomically write the checkpoint of ``stage``; return its path."""
        envelope = {"pipeline_id": pipeline_id, "stage": stage, "created_at": utc_now_iso(),
                    "sha256": _digest(state), "state": state}
        data = json.dumps(envelope, default=str, sort_keys=True).encode("utf-8")
        return write_atomic(self._path(pipeline_id, stage), data, mode=None, sync_dir=True)

    def load(self, pipeline_id: str, stage: str) -> dict[str, Any] | None:
        """The saved state of ``stage``, or ``None`` when absent or failing validation."""
        path = self._path(pipeline_id, stage)
        try:
            envelope = json.loads(path.read_text(encoding="utf-8"))
            state = envelope["state"]
            valid = envelope.get("sha256") == _digest(state)
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            valid, state = False, None
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reason = "sha256 mismatch"
        if not valid:
            self.log.log_event("checkpoint_corrupt", level="warning", pipeline_id=pipeline_id, stage=stage,
                               path=str(path), reason=reason)
            return None
        return state

    def completed_stages(self, pipeline_id: str) -> list[str]:
        """Stages of ``pipeline_id`` with a valid checkpoint, oldest first."""
        folder = self.directory / safe_name(pipeline_id)
        files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime) if folder.exists() else []
        return [p.stem for p in files if self.load(pipeline_id, p.stem) is not None]

    def clear(self, pipeline_id: str) -> None:
        """Remove every checkpoint of ``pipeline_id``."""
        shutil.rmtree(self.directory / safe_name(pipeline_id), ignore_errors=True)

    def cleanup(self, now: float | None = None) -> list[Path]:
        """Delete pipeline folders whose newest checkpoint is older than the retention; return them."""
        cutoff = (now or time.time()) - self.retention_days * 86400
        removed: list[Path] = []
        if not self.directory.exists():
            return removed
        for folder in self.directory.iterdir():
            if not folder.is_dir():
                continue
            mtimes = [p.stat().st_mtime for p in folder.glob("*.json")] or [folder.stat().st_mtime]
            if max(mtimes) < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        if removed:
            self.log.log_event("checkpoint_cleanup", removed=len(removed), retention_days=self.retention_days)
        return removed

    def status(self) -> dict[str, Any]:
        """Counts for monitoring: pipelines, checkpoint files, oldest and newest age in hours."""
        files = list(self.directory.glob("*/*.json")) if self.directory.exists() else []
        ages = [(time.time() - p.stat().st_mtime) / 3600 for p in files]
        return {"pipelines": len({p.parent for p in files}), "checkpoints": len(files),
                "oldest_hours": round(max(ages), 2) if ages else None,
                "newest_hours": round(min(ages), 2) if ages else None}
