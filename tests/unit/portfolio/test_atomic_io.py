"""Atomic writes: the old file survives a failed write, no temporary file is left, permissions as asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation import atomic_io
from foundation.atomic_io import write_atomic


def test_write_atomic_keeps_the_old_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r.json"
    write_atomic(target, b"old")
    monkeypatch.setattr(atomic_io.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_mode_none_keeps_the_file_private_and_sync_dir_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "state.json"
    assert write_atomic(target, b"{}", mode=None, sync_dir=True) == target
    assert target.read_bytes() == b"{}"
    assert target.stat().st_mode & 0o777 == 0o600
