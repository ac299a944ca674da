"""Run-time inputs of a task: ``portfolio.*`` Variables, their ``CRON_*`` fallbacks, Connections, DAG-run conf.

Read only inside ``execute()`` (never at parse time). Order of precedence for each parameter:
``dag_run.conf`` > Airflow Variable > ``CRON_*`` environment variable > ``config/pipeline.yml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from foundation.redaction import register_secret
from portfolio.params import RunParams, resolve


@dataclass(frozen=True)
class VariableSpec:
    """One ``portfolio.*`` Variable: its environment fallback, ``conf`` key and description."""

    name: str
    env: str
    conf_key: str
    description: str


VARIABLES: tuple[VariableSpec, ...] = (
    VariableSpec("portfolio.default_tickers", "CRON_TICKERS", "tickers", "Comma-separated ticker universe"),
    VariableSpec("portfolio.default_start_date", "CRON_START_DATE", "start_date", "History start (YYYY-MM-DD)"),
    VariableSpec("portfolio.default_end_date", "CRON_END_DATE", "end_date", "History end; empty = run date"),
    VariableSpec("portfolio.execution_mode", "CRON_EXEC_MODE", "execution_mode", "live | synthetic | auto"),
    VariableSpec("portfolio.pipeline_device", "PIPELINE_DEVICE", "pipeline_device", "cpu | cuda | auto"),
    VariableSpec("portfolio.enable_gpu_parallel", "ENABLE_GPU_PARALLEL", "enable_gpu_parallel", "0 | 1"),
    VariableSpec("portfolio.enable_parallel_tickers", "ENABLE_PARALLEL_TICKER_PROCESSING",
                 "enable_parallel_tickers", "0 | 1"),
    VariableSpec("portfolio.enable_parallel_forecasts", "ENABLE_PARALLEL_FORECASTS",
                 "enable_parallel_forecasts", "0 | 1"),
    VariableSpec("portfolio.synthetic_dataset_id", "SYNTHETIC_DATASET_ID", "synthetic_dataset_id",
                 "Synthetic dataset id or 'latest'"),
    VariableSpec("portfolio.database_path", "PORTFOLIO_DB_PATH", "database_path",
                 "SQLite database path (relative to PMX_HOME)"),
)
CONNECTIONS = {  # conn_id -> environment variable the domain reads the secret from
    "alpha_vantage": "ALPHA_VANTAGE_API_KEY",
    "finnhub": "FINNHUB_API_KEY",
}
DATABASE_CONNECTION = "portfolio_db"


def seed_defaults() -> dict[str, str]:
    """Default Variable values: the seed's, resolved through ``config/pipeline.yml`` for this ``PMX_ENV``."""
    from portfolio.settings import load_settings

    cfg = load_settings()
    return {
        "portfolio.default_tickers": ",".join(cfg.tickers.default),
        "portfolio.default_start_date": cfg.dates.default_start.isoformat(),
        "portfolio.default_end_date": cfg.dates.default_end.isoformat() if cfg.dates.default_end else "",
        "portfolio.execution_mode": cfg.execution_mode,
        "portfolio.pipeline_device": cfg.runtime.pipeline_device,
        "portfolio.enable_gpu_parallel": "1" if cfg.runtime.enable_gpu_parallel else "0",
        "portfolio.enable_parallel_tickers": "1" if cfg.runtime.enable_parallel_tickers else "0",
        "portfolio.enable_parallel_forecasts": "1" if cfg.runtime.enable_parallel_forecasts else "0",
        "portfolio.synthetic_dataset_id": cfg.synthetic.dataset_id,
        "portfolio.database_path": cfg.database.path,
    }


def _variable(name: str) -> str | None:
    from airflow.sdk import Variable

    try:
        value = Variable.get(name, default=None)
    except Exception:
        return None
    return None if value in (None, "") else str(value)


def apply_runtime_inputs(conf: dict[str, Any] | None = None) -> dict[str, str]:
    """Export Variables (and ``conf`` overrides) into the task's environment; return what was applied."""
    conf = conf or {}
    applied: dict[str, str] = {}
    for spec in VARIABLES:
        value = conf.get(spec.conf_key)
        value = str(value) if value not in (None, "") else _variable(spec.name)
        if value is not None:
            os.environ[spec.env] = value
            applied[spec.env] = value
    _load_connection_secrets()
    return applied


def _load_connection_secrets() -> None:
    from airflow.sdk import Connection

    for conn_id, env_name in CONNECTIONS.items():
        if os.environ.get(env_name):
            register_secret(os.environ[env_name])
            continue
        try:
            secret = Connection.get(conn_id).password
        except Exception:
            continue
        if secret:
            register_secret(secret)
            os.environ[env_name] = secret


def run_params(conf: dict[str, Any] | None = None, *, core: bool = False) -> RunParams:
    """Apply run-time inputs and resolve the run parameters."""
    apply_runtime_inputs(conf)
    return resolve(core=core)
