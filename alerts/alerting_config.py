"""``config/alerting.yml``: channels, routing by severity, retry and dead-letter policy, link base URL.

Secrets are not here: a channel names an Airflow Connection (``conn_id``) that holds the token, webhook URL or
routing key. The outbox stores channel names only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from foundation.config_loader import CachedConfig, ConfigError, Strict
from foundation.sql_store import Dsn


class ChannelConfig(Strict):
    """One delivery channel."""

    type: Literal["slack", "pagerduty", "email", "file"]
    conn_id: str | None = Field(default=None, min_length=1)  # every type but ``file``
    path: str | None = None  # file only: JSON lines, relative to PMX_HOME
    enabled: bool = True
    mode: Literal["api", "webhook"] = "api"  # slack only: Web API (chat.postMessage) or webhook
    channel: str | None = None  # slack API mode: channel name (#x) or id
    to: list[str] = Field(default_factory=list)  # email only
    source: str = "portfolio-maximizer"  # pagerduty payload.source

    @model_validator(mode="after")
    def _complete(self) -> ChannelConfig:
        if self.type == "slack" and self.mode == "api" and not self.channel:
            raise ValueError("a slack channel in api mode needs `channel` (a #name or a channel id)")
        if self.type == "email" and not self.to:
            raise ValueError("an email channel needs at least one address in `to`")
        if self.type == "file" and not self.path:
            raise ValueError("a file channel needs `path` (JSON lines, relative to PMX_HOME)")
        if self.type != "file" and not self.conn_id:
            raise ValueError(f"a {self.type} channel needs `conn_id` (the Airflow Connection with its secret)")
        return self


class RetryPolicy(Strict):
    """Exponential backoff between delivery attempts."""

    initial_delay_seconds: float = Field(default=1.0, gt=0)
    multiplier: float = Field(default=2.0, ge=1)
    max_delay_seconds: float = Field(default=300.0, gt=0)
    timeout_seconds: float = Field(default=10.0, gt=0)  # per HTTP request
    max_age_hours: float = Field(default=24.0, gt=0)  # then the delivery is dead-lettered as expired

    def delay(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failed attempts."""
        return min(
            self.max_delay_seconds, self.initial_delay_seconds * self.multiplier ** max(0, attempts - 1)
        )


class DeadLetterPolicy(Strict):
    """Which HTTP statuses cannot succeed by retrying."""

    permanent_statuses: list[int] = Field(default_factory=lambda: [400, 401, 403, 404, 410, 413, 422])
    # channel Connection not defined: not_configured (nothing sent, shown as such), dead_letter or retry
    missing_connection: Literal["not_configured", "dead_letter", "retry"] = "not_configured"

    @field_validator("permanent_statuses")
    @classmethod
    def _four_hundreds(cls, value: list[int]) -> list[int]:
        bad = [s for s in value if not 400 <= s <= 499 or s in (408, 425, 429)]
        if bad:
            raise ValueError(f"only 4xx statuses that cannot succeed on retry may be permanent, not {bad}")
        return value


class WorkerConfig(Strict):
    """The outbox worker's loop."""

    poll_interval_seconds: float = Field(default=0.2, gt=0, le=10)
    concurrency: int = Field(default=8, ge=1, le=64)
    lease_seconds: float = Field(default=120.0, gt=0)
    run_check_interval_seconds: float = Field(default=2.0, gt=0)  # recoveries, task budgets, freshness
    metrics_interval_seconds: float = Field(default=10.0, gt=0)
    heartbeat_seconds: float = Field(default=15.0, gt=0)  # the stack's "last seen alive" (docs/slas.md)
    outage_after_seconds: float = Field(default=120.0, gt=0)  # a longer gap between beats is an outage

    @model_validator(mode="after")
    def _outage_longer_than_beat(self) -> WorkerConfig:
        if self.outage_after_seconds <= self.heartbeat_seconds:
            raise ValueError("outage_after_seconds must be longer than heartbeat_seconds")
        return self


class OutboxConfig(Strict):
    """Where the outbox lives: a SQLite file (one machine) or a PostgreSQL database (several hosts)."""

    backend: Literal["sqlite", "postgresql"] = "sqlite"
    path: str = "data/alerts/outbox.sqlite"  # sqlite: under PMX_HOME (PMX_ALERTS_OUTBOX overrides)
    dsn: Dsn = None  # postgresql: libpq URL or key=value pairs (PMX_ALERTS_OUTBOX_DSN overrides, any backend)


class AlertingConfig(Strict):
    """The whole ``config/alerting.yml``."""

    enabled: bool = True  # false: no deadlines on DAGs, no SLA view (PMX_ALERTS_ENABLED overrides)
    ui_base_url: str = "auto"  # "auto": the stack's [api] base_url (AIRFLOW__API__BASE_URL)
    outbox: OutboxConfig = OutboxConfig()
    worker: WorkerConfig = WorkerConfig()
    retry: RetryPolicy = RetryPolicy()
    dead_letter: DeadLetterPolicy = DeadLetterPolicy()
    channels: dict[str, ChannelConfig]
    routing: dict[Literal["critical", "error", "warning", "info"], list[str]]

    def link_base(self) -> str:
        """The UI base URL without trailing slash (``auto``: Airflow's ``[api] base_url`` here)."""
        import os

        url = self.ui_base_url
        if url == "auto":
            url = os.environ.get("AIRFLOW__API__BASE_URL") or "http://127.0.0.1:8080"
        return url.rstrip("/")


def check_channels(names: list[str], known: dict[str, ChannelConfig], file: Path | str, key: str) -> None:
    """Raise :class:`ConfigError` naming ``file``/``key[i]`` for the first channel name not in ``known``."""
    for i, name in enumerate(names):
        if name not in known:
            raise ConfigError(
                file, f"{key}[{i}]", name, f"unknown channel; known: {', '.join(sorted(known))}"
            )


def _check_routing(cfg: AlertingConfig, file: Path) -> None:
    for severity, names in cfg.routing.items():
        check_channels(names, cfg.channels, file, f"routing.{severity}")


_cache = CachedConfig(AlertingConfig, "alerting", _check_routing)


def load_alerting(config_dir: Path | None = None, env: str | None = None) -> AlertingConfig:
    """Load and validate ``config/alerting.yml`` (cached per directory and environment)."""
    return _cache.load(config_dir, env)


def clear_cache() -> None:
    """Forget loaded configs (tests, config reloads)."""
    _cache.clear()
