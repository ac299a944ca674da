"""Disk cache of fetched OHLCV frames: one CSV plus a JSON sidecar per (source, ticker, window), with a TTL.

Layout: ``<cache_dir>/<source>/<ticker>/<start>_<end>.csv`` and ``.json`` (created_at, rows, sha256).
Writes are atomic (temp file, fsync, rename; data first, sidecar last), so a reader sees a complete entry or
none; an entry whose data does not match its sidecar's sha256 is a miss.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation import paths
from foundation.atomic_io import write_atomic
from portfolio.checkpoint_manager import safe_name

if TYPE_CHECKING:
    import pandas as pd

    from portfolio.settings import PipelineSettings


def frame_to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """The canonical CSV form of an OHLCV frame (ISO dates)."""
    out = frame.copy()
    if hasattr(out["date"], "dt"):
        out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    return out.to_csv(index=False).encode("utf-8")


def read_ohlcv_csv(path: Path) -> pd.DataFrame:
    """Read a CSV written by :func:`frame_to_csv_bytes` (dates parsed, unparseable ones become NaT)."""
    import pandas as pd

    frame = pd.read_csv(path)
    if "date" in frame.columns:
        frame["date"] = pd.to_datetime(frame["date"], errors="coerce").astype("datetime64[ns]")
    return frame


class DiskCache:
    """Cache-first storage of source responses with a time-to-live."""

    def __init__(self, directory: Path | str | None = None, ttl_hours: float | None = None, *,
                 settings: PipelineSettings | None = None, clock: Callable[[], float] = time.time) -> None:
        if directory is None or ttl_hours is None:
            if settings is None:
                from portfolio.settings import load_settings

                settings = load_settings()
            directory = directory or paths.resolve(settings.data_sources.cache_dir)
            ttl_hours = settings.data_sources.cache_ttl_hours if ttl_hours is None else ttl_hours
        self.directory = Path(directory)
        self.ttl_seconds = float(ttl_hours) * 3600
        self.clock = clock

    def path_for(self, source: str, ticker: str, start: date, end: date) -> Path:
        """The CSV path of an entry (the sidecar is the same path with ``.json``)."""
        name = f"{start.isoformat()}_{end.isoformat()}.csv"
        return self.directory / safe_name(source) / safe_name(ticker) / name

    def _meta(self, csv_path: Path) -> dict[str, Any] | None:
        try:
            meta: dict[str, Any] = json.loads(csv_path.with_suffix(".json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return meta

    def _fresh(self, meta: dict[str, Any], now: float) -> bool:
        return self.ttl_seconds > 0 and now - float(meta.get("created_at", 0)) < self.ttl_seconds

    def get(self, source: str, ticker: str, start: date, end: date) -> pd.DataFrame | None:
        """The cached frame when present, intact and younger than the TTL, else ``None``."""
        path = self.path_for(source, ticker, start, end)
        meta = self._meta(path)
        if meta is None or not self._fresh(meta, self.clock()):
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return None
        return read_ohlcv_csv(path)

    def put(self, source: str, ticker: str, start: date, end: date, frame: pd.DataFrame) -> Path | None:
        """Store ``frame`` (skipped when the TTL is 0); return the CSV path."""
        if self.ttl_seconds <= 0:
            return None
        path = self.path_for(source, ticker, start, end)
        data = frame_to_csv_bytes(frame)
        write_atomic(path, data)
        meta = {"source": source, "ticker": ticker, "start": start.isoformat(), "end": end.isoformat(),
                "rows": len(frame), "created_at": self.clock(), "sha256": hashlib.sha256(data).hexdigest()}
        write_atomic(path.with_suffix(".json"), json.dumps(meta, sort_keys=True).encode("utf-8"))
        return path

    def stale_entries(self, now: float | None = None) -> list[Path]:
        """Files of entries past the TTL, plus orphaned or unreadable ones and leftover temp files."""
        now = self.clock() if now is None else now
        stale: list[Path] = []
        if not self.directory.exists():
            return stale
        for path in sorted(self.directory.glob("*/*/*")):
            if not path.is_file():
                continue
            if path.name.startswith("."):
                if now - path.stat().st_mtime > 3600:  # a temp file left by a killed writer
                    stale.append(path)
                continue
            csv_path = path.with_suffix(".csv")
            meta = self._meta(csv_path)
            if meta is None or not csv_path.exists() or not self._fresh(meta, now):
                stale.append(path)
        return stale

    def prune(self, *, dry_run: bool = False, now: float | None = None) -> list[Path]:
        """Delete (or with ``dry_run`` only list) :meth:`stale_entries`; return them."""
        stale = self.stale_entries(now)
        if not dry_run:
            for path in stale:
                path.unlink(missing_ok=True)
        return stale
