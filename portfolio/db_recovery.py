"""What a database recovery did (which backup, how old) and the queue of recoveries awaiting their incident.

The domain does not import the alert router: :meth:`DatabaseManager.recover` appends a :class:`Recovery` here,
and the entrypoint layer (``scripts/incidents.py``) takes them with :func:`take_recoveries` and submits them.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

_recoveries: list[Recovery] = []
_recoveries_lock = threading.Lock()


@dataclass(frozen=True)
class Recovery:
    """One corrupt database replaced: by which backup (None: an empty database) and how old that backup was."""

    db_path: str
    corrupt_copy: str
    problems: list[str]
    backup_path: str | None
    backup_taken_at: str | None
    backup_age_seconds: float | None
    at: str

    @property
    def outcome(self) -> str:
        """``restored`` (from a backup) or ``recreated`` (empty: everything is lost)."""
        return "restored" if self.backup_path else "recreated"

    def summary(self) -> str:
        """One line for stderr and the incident."""
        first = self.problems[0] if self.problems else "integrity check failed"
        if self.backup_path:
            age = _age_text(self.backup_age_seconds or 0)
            return (f"portfolio database {self.db_path} was corrupt ({first}); restored backup {self.backup_path} "
                    f"taken {self.backup_taken_at} ({age} old): changes since then are lost; "
                    f"the corrupt file is kept as {self.corrupt_copy}")
        return (f"portfolio database {self.db_path} was corrupt ({first}) and no healthy backup exists: "
                f"started from an EMPTY database, all data is lost; the corrupt file is kept as {self.corrupt_copy}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly fields (for the event and the incident details)."""
        return {**asdict(self), "outcome": self.outcome}


def _age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def take_recoveries() -> list[Recovery]:
    """The recoveries of this process not taken yet (the entrypoint turns each into an incident)."""
    with _recoveries_lock:
        taken = list(_recoveries)
        _recoveries.clear()
    return taken


def queue_recovery(recovery: Recovery) -> None:
    """Remember ``recovery`` until :func:`take_recoveries` is called."""
    with _recoveries_lock:
        _recoveries.append(recovery)
