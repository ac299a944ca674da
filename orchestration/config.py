"""Typed model of ``config/orchestration.yml``: schedules, pools, retries per task type, market-hours gating."""

from __future__ import annotations

from croniter import croniter
from pydantic import Field, field_validator, model_validator

from foundation.config_loader import CachedConfig, Strict

DAG_IDS = (
    "daily_etl", "auto_trader", "auto_trader_core", "monitoring", "env_sanity", "nightly_backfill",
    "ts_threshold_sweep", "transaction_costs", "weekly_sleeve_maintenance", "synthetic_refresh",
    "sanitize_caches", "portfolio_master",
)
TASK_TYPES = ("etl_batch", "etl_retry", "trading", "monitoring", "maintenance", "control")


class PoolSpec(Strict):
    slots: int = Field(ge=0)
    description: str = ""
    queue: str = Field(default="default", pattern=r"^[A-Za-z0-9_.-]+$")  # the Celery queue of the pool's tasks


class RetrySpec(Strict):
    retries: int = Field(ge=0, le=10)
    delay_seconds: float = Field(ge=0)
    max_delay_seconds: float | None = Field(default=None, gt=0)


class DagSpec(Strict):
    schedule: str
    tags: list[str] = Field(min_length=1)
    description: str
    max_active_runs: int = Field(default=1, ge=1)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"not a valid cron expression: {value!r}")
        return value


class Mapping(Strict):
    max_active_tis_per_dag: int = Field(default=4, ge=1)


class TickerBatches(Strict):
    """How a DAG splits the run's tickers into batches (one mapped task instance each): ``etl_batches`` for
    ``daily_etl``, ``trade_batches`` for the trading cycles."""

    max_batches: int = Field(default=4, ge=1, le=256)
    min_batch_size: int = Field(default=3, ge=1)
    max_batch_size: int = Field(default=25, ge=1)
    threads: int = Field(default=2, ge=1, le=32)

    @model_validator(mode="after")
    def _sizes(self) -> TickerBatches:
        if self.min_batch_size > self.max_batch_size:
            raise ValueError(f"min_batch_size={self.min_batch_size} is above max_batch_size={self.max_batch_size}")
        return self

    def split(self, tickers: list[str]) -> list[list[str]]:
        """``tickers`` in order, cut into near-equal batches within the configured counts and sizes."""
        if not tickers:
            return []
        count = min(self.max_batches, -(-len(tickers) // self.min_batch_size))
        count = max(count, -(-len(tickers) // self.max_batch_size))
        size, extra = divmod(len(tickers), count)
        out, at = [], 0
        for i in range(count):
            step = size + (1 if i < extra else 0)
            out.append(tickers[at:at + step])
            at += step
        return out


class MarketHours(Strict):
    calendar: str = "XNYS"
    poke_interval_seconds: float = Field(default=60, gt=0)
    max_wait_seconds: float = Field(default=60, ge=0, le=3600)  # a near open is waited for; a far one skips
    bypass_in_synthetic_mode: bool = True


class OrchestrationConfig(Strict):
    timezone: str
    owner: str
    pools: dict[str, PoolSpec]
    retries: dict[str, RetrySpec]
    mapping: Mapping = Mapping()
    etl_batches: TickerBatches = TickerBatches()
    # a ticker's trade is milliseconds of work: one task instance carries many, two run at once (trading_pool)
    trade_batches: TickerBatches = TickerBatches(max_batches=2, min_batch_size=25, max_batch_size=50, threads=1)
    market_hours: MarketHours = MarketHours()
    dags: dict[str, DagSpec]

    @field_validator("dags")
    @classmethod
    def _all_dags(cls, value: dict[str, DagSpec]) -> dict[str, DagSpec]:
        unknown = sorted(set(value) - set(DAG_IDS))
        missing = sorted(set(DAG_IDS) - set(value))
        if unknown or missing:
            raise ValueError(f"unknown DAGs {unknown}, missing DAGs {missing}")
        return value

    @field_validator("retries")
    @classmethod
    def _all_task_types(cls, value: dict[str, RetrySpec]) -> dict[str, RetrySpec]:
        missing = sorted(set(TASK_TYPES) - set(value))
        unknown = sorted(set(value) - set(TASK_TYPES))
        if unknown or missing:
            raise ValueError(f"unknown task types {unknown}, missing task types {missing}")
        return value

    @field_validator("pools")
    @classmethod
    def _pools(cls, value: dict[str, PoolSpec]) -> dict[str, PoolSpec]:
        missing = sorted({"gpu_pool", "database_pool", "api_pool", "trading_pool"} - set(value))
        if missing:
            raise ValueError(f"missing pools {missing}")
        return value


_cache = CachedConfig(OrchestrationConfig, "orchestration")


def load_orchestration() -> OrchestrationConfig:
    """Load ``config/orchestration.yml`` with the ``PMX_ENV`` overlay (cached per directory and environment)."""
    return _cache.load()
