"""``event_log:`` of ``config/observability.yml``: the JSON event log's directory, rotation and retention.

Read on its own (the rest of the file belongs to the listener) and never from ``config/pipeline.yml``, so that
neither a trading-config typo nor a listener setting can stop the events that would report it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from foundation import paths
from foundation.config_loader import ConfigError, Strict, current_env, deep_merge, read_yaml, validate


class EventLogSettings(Strict):
    """``event_log:`` of ``config/observability.yml``: where the JSON streams live, rotation and retention."""

    dir: str = "logs/pipeline"
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    retention_days: float = Field(default=7, gt=0)


class _EventLogSection(BaseModel):
    """Only the ``event_log`` section is read: the rest of the file belongs to the listener."""

    model_config = ConfigDict(extra="ignore")

    event_log: EventLogSettings = EventLogSettings()


def load_event_log_settings(config_dir: Path | None = None, env: str | None = None) -> EventLogSettings:
    """``event_log`` of ``observability.yml`` plus ``observability.event_log`` of the ``PMX_ENV`` overlay.

    Raises :class:`ConfigError` (file, key, value) on a bad value; a missing file means the defaults.
    """
    directory = config_dir or paths.config_dir()
    base_file = directory / "observability.yml"
    base = read_yaml(base_file) if base_file.exists() else {}
    overlay_file = directory / "environments" / f"{env or current_env()}.yml"
    overlay: dict[str, Any] = {}
    if overlay_file.exists():
        section = read_yaml(overlay_file).get("observability") or {}
        if not isinstance(section, dict):
            raise ConfigError(overlay_file, "observability", section, "overlay section must be a mapping")
        overlay = {"event_log": section["event_log"]} if "event_log" in section else {}
    data = deep_merge({"event_log": base.get("event_log") or {}}, overlay)
    return validate(_EventLogSection, data, base_file, overlay, overlay_file).event_log


def mtime(path: Path) -> int:
    """``st_mtime_ns`` of ``path`` (0 when absent): part of the cache key, so an edited file is re-read."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


@lru_cache(maxsize=8)
def cached_settings(config_dir: str, env: str, *_stamps: int) -> EventLogSettings:
    """:func:`load_event_log_settings`, cached per directory, environment and file modification times."""
    return load_event_log_settings(Path(config_dir), env)
