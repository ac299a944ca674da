"""Typed model of ``config/observability.yml``: the event log, the listener switch, its queue, the error_monitor
thresholds. Observability reads this file (and its ``observability:`` overlay) only, never ``pipeline.yml``.

``PMX_LISTENER_ENABLED`` (``true``/``false``) overrides ``listener.enabled`` for one process tree, which is
how the "plugin disabled" comparison runs are made without touching the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from foundation import paths
from foundation.config_loader import CachedConfig, Strict, env_flag, part_enabled
from foundation.event_log_config import EventLogSettings
from foundation.severity import Severity
from foundation.sql_store import Dsn, StoreLocation, resolve_location

ENABLED_ENV = "PMX_LISTENER_ENABLED"
STATE_DSN_ENV = "PMX_ERROR_MONITOR_DSN"
RULES = ("dag_failures", "retry_storm", "import_errors", "consecutive_failed_runs")


class ListenerSettings(Strict):
    enabled: bool = True
    lifecycle_events: bool = True          # on_starting / before_stopping events (every component)
    max_error_chars: int = Field(default=2000, ge=100, le=20000)
    queue_size: int = Field(default=1000, ge=1, le=100_000)
    flush_timeout_seconds: float = Field(default=5.0, ge=0, le=60)


class WindowRule(Strict):
    """Fire when ``threshold`` occurrences fall inside the sliding window; re-arm below ``reset_below``."""

    enabled: bool = True
    threshold: int = Field(ge=1)
    window_minutes: float = Field(gt=0, le=7 * 24 * 60)
    reset_below: int | None = Field(default=None, ge=0)   # default: the window must drain to 0
    cooldown_minutes: float = Field(default=30, ge=0)
    severity: Severity = "error"

    @model_validator(mode="after")
    def _hysteresis(self) -> WindowRule:
        if self.reset_below is not None and self.reset_below > self.threshold:
            raise ValueError(f"reset_below {self.reset_below} must be <= threshold {self.threshold}")
        return self

    @property
    def rearm_below(self) -> int:
        """The window count under which a fired alert re-arms."""
        return 1 if self.reset_below is None else self.reset_below


class StreakRule(Strict):
    """Fire when a DAG has ``threshold`` failed runs in a row; a successful run resolves and re-arms."""

    enabled: bool = True
    threshold: int = Field(default=3, ge=1)
    cooldown_minutes: float = Field(default=60, ge=0)
    severity: Severity = "critical"


class Rules(Strict):
    dag_failures: WindowRule = WindowRule(threshold=3, window_minutes=60, cooldown_minutes=30)
    retry_storm: WindowRule = WindowRule(threshold=10, window_minutes=15, cooldown_minutes=30,
                                         severity="warning")
    import_errors: WindowRule = WindowRule(threshold=1, window_minutes=60, cooldown_minutes=60)
    consecutive_failed_runs: StreakRule = StreakRule()


class ErrorMonitorSettings(Strict):
    enabled: bool = True
    backend: Literal["sqlite", "postgresql"] = "sqlite"  # postgresql: shared by every host (Celery workers)
    state_path: str = "data/error_monitor.sqlite"  # sqlite: under PMX_HOME
    dsn: Dsn = None  # postgresql: libpq URL or key=value pairs (PMX_ERROR_MONITOR_DSN overrides, any backend)
    busy_timeout_ms: int = Field(default=5000, ge=100, le=60_000)
    route_alerts: bool = True               # hand crossed thresholds to alerts.router.submit when importable
    rules: Rules = Rules()

    def state_file(self) -> Path:
        """Absolute path of the SQLite state file."""
        return paths.resolve(self.state_path)

    def location(self) -> StoreLocation:
        """Where the state lives: ``PMX_ERROR_MONITOR_DSN`` (PostgreSQL), else ``backend`` and its key."""
        return resolve_location(self.backend, self.state_path, self.dsn, dsn_env=STATE_DSN_ENV)


class ObservabilityConfig(Strict):
    event_log: EventLogSettings = EventLogSettings()
    listener: ListenerSettings = ListenerSettings()
    error_monitor: ErrorMonitorSettings = ErrorMonitorSettings()


_cache = CachedConfig(ObservabilityConfig, "observability")


def load_observability(*, fresh: bool = False) -> ObservabilityConfig:
    """Load ``config/observability.yml`` plus the ``PMX_ENV`` overlay; cached per directory and env."""
    return _cache.load(fresh=fresh)


def env_switch() -> bool | None:
    """``PMX_LISTENER_ENABLED`` as a bool, ``None`` when unset; an unknown value is a :class:`ConfigError`."""
    return env_flag(ENABLED_ENV)


def listener_enabled() -> bool:
    """Whether the listener should be registered: the env switch wins, then ``listener.enabled``.

    A broken config file still registers the listener (it stays inert and reports the error once), so a
    typo never silently switches observability off.
    """
    return part_enabled(ENABLED_ENV, lambda: load_observability().listener.enabled)
