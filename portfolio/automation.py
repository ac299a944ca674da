"""Shared plumbing of the automation jobs: the ``logs/automation`` directory and atomic JSON writes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from foundation import paths
from foundation.atomic_io import write_atomic

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads() -> None:
    """Default BLAS to one thread unless set: the models' matrices are tiny and extra BLAS threads only
    contend for the cores (5x slower measured on a busy 2-core host). Effective only before numpy loads."""
    for var in BLAS_THREAD_VARS:
        os.environ.setdefault(var, "1")


def automation_dir() -> Path:
    """``logs/automation`` (under ``PMX_LOG_DIR`` when set)."""
    return paths.logs_dir() / "automation"


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write ``data`` as JSON to ``path`` via a fsynced temp file and a rename (never half a file)."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"
    return write_atomic(path, text.encode("utf-8"), mode=None)
