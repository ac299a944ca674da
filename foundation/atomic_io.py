"""Atomic file writes: a fsynced temporary file beside the target, renamed over it (never half a file)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int | None = 0o644, sync_dir: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; on any failure the old file stays and no temporary file is left.

    ``mode`` is the new file's permission bits (``None`` keeps ``mkstemp``'s owner-only 0600); ``sync_dir``
    also fsyncs the directory so the rename itself survives a crash.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync_dir:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path
