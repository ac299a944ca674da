"""The cutover state: where each job runs (``cron only`` / ``parallel`` / ``airflow only``) and the saved originals.

One small JSON file (default ``$PMX_HOME/data/cutover/state.json``); the original crontabs are saved byte for
byte beside it, under ``originals/``. Every change is written atomically and appends to the job's history.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from foundation import paths
from foundation.atomic_io import write_atomic
from local_stack.cutover.mapping import JOB_TO_DAG

CRON_ONLY, PARALLEL, AIRFLOW_ONLY = "cron only", "parallel", "airflow only"
STATUSES = (CRON_ONLY, PARALLEL, AIRFLOW_ONLY)
STATE_VERSION = 1


class StateError(RuntimeError):
    """The state file is unreadable, or asks for something it cannot do (no saved original...)."""


def default_state_path() -> Path:
    """``$PMX_HOME/data/cutover/state.json``."""
    return paths.data_dir() / "cutover" / "state.json"


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class CutoverState:
    """The parsed state file; :meth:`save` writes it back."""

    path: Path
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    crontabs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> CutoverState:
        """Read the state at ``path`` (default :func:`default_state_path`); a missing file is an empty state."""
        path = path or default_state_path()
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise StateError(f"{path}: not a readable cutover state file: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise StateError(f"{path}: expected a cutover state file with version {STATE_VERSION}")
        return cls(path, dict(data.get("jobs", {})), dict(data.get("crontabs", {})))

    def save(self) -> None:
        """Write the state atomically."""
        body = {"version": STATE_VERSION, "jobs": self.jobs, "crontabs": self.crontabs}
        write_atomic(self.path, (json.dumps(body, indent=2, sort_keys=True) + "\n").encode())

    @property
    def directory(self) -> Path:
        """Where the originals and backups live (the state file's directory)."""
        return self.path.parent

    def status(self, job: str) -> str:
        """Where ``job`` runs now; a job never touched runs in cron only."""
        return str(self.jobs.get(job, {}).get("status", CRON_ONLY))

    def set_status(self, job: str, status: str, note: str = "") -> None:
        """Record a transition (and its history entry)."""
        if status not in STATUSES:
            raise StateError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
        record = self.jobs.setdefault(job, {"dag_id": JOB_TO_DAG.get(job), "history": []})
        previous = record.get("status", CRON_ONLY)
        record["status"] = status
        record["updated_at"] = _now()
        record["history"].append({"at": record["updated_at"], "from": previous, "to": status, "note": note})

    # -- original crontabs -----------------------------------------------------------------------------------
    def save_original(self, crontab: Path, data: bytes) -> Path:
        """Keep ``data`` (the crontab before its first migration) byte for byte; later calls keep the first."""
        key = str(crontab.resolve())
        known = self.crontabs.get(key)
        if known:
            return self.directory / known["original"]
        digest = sha256(data)
        relative = f"originals/{crontab.name}.{digest[:12]}.crontab"
        write_atomic(self.directory / relative, data, mode=0o600)
        self.crontabs[key] = {"original": relative, "sha256": digest, "saved_at": _now(), "size": len(data)}
        return self.directory / relative

    def original(self, crontab: Path) -> bytes | None:
        """The saved original of ``crontab`` (checked against its recorded SHA-256), or None."""
        known = self.crontabs.get(str(crontab.resolve()))
        if not known:
            return None
        file = self.directory / known["original"]
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise StateError(f"the saved original of {crontab} ({file}) is unreadable: {exc}") from None
        if sha256(data) != known["sha256"]:
            raise StateError(f"the saved original of {crontab} ({file}) no longer matches its SHA-256")
        return data

    def forget_original(self, crontab: Path) -> None:
        """Drop the record of ``crontab``'s original (after a full rollback; the file stays on disk)."""
        self.crontabs.pop(str(crontab.resolve()), None)

    def backup(self, crontab: Path, data: bytes) -> Path:
        """Save the current content of ``crontab`` before it is overwritten by a rollback."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return write_atomic(self.directory / "backups" / f"{crontab.name}.{stamp}.crontab", data, mode=0o600)
