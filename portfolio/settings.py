"""Typed model of ``config/pipeline.yml``: tickers, data sources, forecasting, trading, health thresholds."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import Field, field_validator, model_validator

from foundation.config_loader import CachedConfig, Strict

TICKER_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,5}([.-][A-Z0-9]{1,3})?$")
ExecutionMode = Literal["live", "synthetic", "auto"]
SourceName = Literal["yfinance", "alpha_vantage", "finnhub", "synthetic"]


def check_ticker(value: str) -> str:
    """Return ``value`` if it is a valid ticker symbol, else raise ``ValueError``."""
    if not isinstance(value, str) or not TICKER_PATTERN.match(value):
        raise ValueError(f"invalid ticker {value!r}: expected upper-case symbol such as AAPL or BRK.B")
    return value


class Tickers(Strict):
    default: list[str] = Field(min_length=1)
    core: list[str] = Field(min_length=1)

    @field_validator("default", "core")
    @classmethod
    def _valid(cls, value: list[str]) -> list[str]:
        for ticker in value:
            check_ticker(ticker)
        if len(set(value)) != len(value):
            raise ValueError("duplicate tickers")
        return value


class Dates(Strict):
    default_start: date
    default_end: date | None = None  # None = today

    @model_validator(mode="after")
    def _ordered(self) -> Dates:
        if self.default_end is not None and self.default_start > self.default_end:
            raise ValueError(f"default_start {self.default_start} is after default_end {self.default_end}")
        return self


class Runtime(Strict):
    pipeline_device: Literal["cpu", "cuda", "auto"] = "cpu"
    enable_gpu_parallel: bool = False
    enable_parallel_tickers: bool = True
    enable_parallel_forecasts: bool = False


class Database(Strict):
    backend: Literal["sqlite", "postgresql"] = "sqlite"  # a PORTFOLIO_DB_DSN selects postgresql whatever this says
    path: str = "data/portfolio_maximizer.db"  # sqlite: the database file
    dsn: str | None = None  # postgresql: libpq connection string; keep the password in PGPASSWORD or ~/.pgpass
    backups_dir: str = "data/backups"
    backups_keep: int = Field(default=7, ge=1)

    @model_validator(mode="after")
    def _dsn_for_postgresql(self) -> Database:
        if self.backend == "postgresql" and self.dsn is not None and not self.dsn.strip():
            raise ValueError("database.dsn is empty: give a PostgreSQL connection string or leave it out")
        return self


class Checkpoints(Strict):
    dir: str = "data/checkpoints"
    retention_days: int = Field(default=7, ge=1)


class DataSources(Strict):
    order: list[SourceName] = Field(min_length=1)
    cache_dir: str = "data/cache"
    cache_ttl_hours: float = Field(default=12, ge=0)
    timeout_seconds: float = Field(default=10, gt=0)
    network_cooldown_seconds: float = Field(default=60, ge=0)  # skip a source this long after a network error
    alpha_vantage_url: str = "https://www.alphavantage.co/query"
    finnhub_url: str = "https://finnhub.io/api/v1"
    staging_dir: str = "data/staging"  # raw extracts between the extract, validate and load tasks
    staging_retention_days: float = Field(default=3, gt=0)


class Regime(Strict):
    name: str
    drift_annual: float
    vol_annual: float = Field(gt=0)
    mean_duration_days: float = Field(gt=1)


class Synthetic(Strict):
    seed: int = 42
    datasets_dir: str = "data/synthetic"
    dataset_id: str = "latest"
    shock_dof: float = Field(default=4.0, gt=2)
    regimes: list[Regime] = Field(min_length=1)


class Quality(Strict):
    calendar: str = "XNYS"
    max_missing_sessions: int = Field(default=0, ge=0)


class Forecasting(Strict):
    horizon: int = Field(default=5, ge=1, le=60)
    min_history: int = Field(default=120, ge=30)
    lookback: int = Field(default=500, ge=60)
    models: list[Literal["sarimax", "garch", "ssa"]] = Field(min_length=1)
    sarimax_order: tuple[int, int, int] = (1, 0, 1)
    garch_p: int = Field(default=1, ge=1)
    garch_q: int = Field(default=1, ge=1)
    ssa_window: int = Field(default=30, ge=4)
    ssa_rank: int = Field(default=4, ge=1)
    holdout_folds: int = Field(default=2, ge=1, le=10)  # holdout backtest: folds of `horizon` bars each


class Signals(Strict):
    confidence_threshold: float = Field(default=0.55, ge=0, le=1)
    min_expected_return: float = Field(default=0.002, ge=0)


class Broker(Strict):
    initial_cash: float = Field(default=100_000, gt=0)
    max_position_fraction: float = Field(default=0.1, gt=0, le=1)
    core_max_trades_per_day: int = Field(default=4, ge=0)


class Costs(Strict):
    commission_per_share: float = Field(default=0.005, ge=0)
    min_commission: float = Field(default=1.0, ge=0)
    spread_bps: float = Field(default=2.0, ge=0)
    slippage_bps: float = Field(default=1.0, ge=0)


class HealthTier(Strict):
    min_sharpe: float
    min_sortino: float
    max_drawdown: float = Field(gt=0, le=1)
    min_win_rate: float = Field(ge=0, le=1)


class QuantHealth(Strict):
    green: HealthTier
    yellow: HealthTier
    min_trades: int = Field(default=5, ge=0)
    periods_per_year: int = Field(default=252, ge=1)  # annualisation of Sharpe/Sortino (daily bars)


class PerformanceReport(Strict):
    min_dag_success_rate: float = Field(default=0.9, ge=0, le=1)  # alert below this per DAG
    stale_after_sessions: int = Field(default=3, ge=0)  # alert when the last bar is more sessions behind
    html_trade_rows: int = Field(default=100, ge=0)  # newest trades shown in the HTML (all go to trades.csv)
    backtest_origins: int = Field(default=8, ge=0, le=250)  # walk-forward origins per ticker (0: stored only)


class PipelineSettings(Strict):
    tickers: Tickers
    dates: Dates
    execution_mode: ExecutionMode = "synthetic"
    runtime: Runtime = Runtime()
    database: Database = Database()
    checkpoints: Checkpoints = Checkpoints()
    data_sources: DataSources
    synthetic: Synthetic
    quality: Quality = Quality()
    forecasting: Forecasting
    signals: Signals = Signals()
    broker: Broker = Broker()
    costs: Costs = Costs()
    quant_health: QuantHealth
    performance_report: PerformanceReport = PerformanceReport()


_cache = CachedConfig(PipelineSettings, "pipeline")


def load_settings(*, fresh: bool = False) -> PipelineSettings:
    """Load ``config/pipeline.yml`` plus the ``PMX_ENV`` overlay; cached per directory and environment."""
    return _cache.load(fresh=fresh)
