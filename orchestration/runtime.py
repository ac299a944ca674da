"""Run-time inputs of a task: ``portfolio.*`` Variables, their ``CRON_*`` fallbacks, Connections, DAG-run conf.

Read only inside ``execute()`` (never at parse time) and resolved once into a
:class:`portfolio.run_inputs.RunInputs` that the task passes on explicitly; nothing is written to
``os.environ``. Order of precedence for each parameter:
``dag_run.conf`` > Airflow Variable > ``CRON_*`` environment variable > ``config/pipeline.yml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from foundation.redaction import register_secret
from portfolio.params import ParameterError
from portfolio.run_inputs import ENV_FALLBACKS, LOCATION_KEYS, RunInputs, resolve_run_inputs


@dataclass(frozen=True)
class VariableSpec:
    """One ``portfolio.*`` Variable: its environment fallback, ``conf`` key and description."""

    name: str
    env: str
    conf_key: str
    description: str


def _spec(name: str, conf_key: str, description: str) -> VariableSpec:
    return VariableSpec(name, ENV_FALLBACKS[conf_key], conf_key, description)


VARIABLES: tuple[VariableSpec, ...] = (
    _spec("portfolio.default_tickers", "tickers", "Comma-separated ticker universe"),
    _spec("portfolio.default_start_date", "start_date", "History start (YYYY-MM-DD)"),
    _spec("portfolio.default_end_date", "end_date", "History end; empty = run date"),
    _spec("portfolio.execution_mode", "execution_mode", "live | synthetic | auto"),
    _spec("portfolio.pipeline_device", "pipeline_device", "cpu | cuda | auto"),
    _spec("portfolio.enable_gpu_parallel", "enable_gpu_parallel", "0 | 1"),
    _spec("portfolio.enable_parallel_tickers", "enable_parallel_tickers", "0 | 1"),
    _spec("portfolio.enable_parallel_forecasts", "enable_parallel_forecasts", "0 | 1"),
    _spec("portfolio.synthetic_dataset_id", "synthetic_dataset_id", "Synthetic dataset id or 'latest'"),
    _spec("portfolio.database_path", "database_path", "SQLite database path (relative to PMX_HOME)"),
    _spec("portfolio.database_dsn", "database_dsn", "PostgreSQL DSN of the portfolio database; empty = config "
          "(no password here: PGPASSWORD or ~/.pgpass)"),
)
CONNECTIONS = {  # conn_id -> name of the secret the domain asks for (also its environment variable)
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
        "portfolio.database_dsn": "",
    }


def _variable(name: str) -> str | None:
    from airflow.sdk import Variable

    try:
        value = Variable.get(name, default=None)
    except Exception:
        return None
    return None if value in (None, "") else str(value)


def explicit_values(conf: dict[str, Any] | None = None) -> dict[str, str]:
    """Each run parameter given by ``conf`` or else by its ``portfolio.*`` Variable (by ``conf`` key)."""
    conf = conf or {}
    values: dict[str, str] = {}
    for spec in VARIABLES:
        value = conf.get(spec.conf_key)
        value = str(value) if value not in (None, "") else _variable(spec.name)
        if value is not None:
            values[spec.conf_key] = value
    return values


def connection_secrets() -> dict[str, str]:
    """Data-source secrets from Connections, by the name the domain asks for, registered for masking.

    A secret already in the task's environment wins (as the domain reads it there first) and is only registered.
    """
    from airflow.sdk import Connection

    secrets: dict[str, str] = {}
    for conn_id, name in CONNECTIONS.items():
        if os.environ.get(name):
            register_secret(os.environ[name])
            continue
        try:
            secret = Connection.get(conn_id).password
        except Exception:
            continue
        if secret:
            register_secret(secret)
            secrets[name] = secret
    return secrets


def run_inputs(conf: dict[str, Any] | None = None, *, core: bool = False, strict: bool = True) -> RunInputs:
    """The run's inputs, resolved once: ``conf`` > Variable > ``CRON_*`` environment > config, plus secrets.

    An Airflow run always names its ticker universe (``tickers_given``), whichever source supplied it. With
    ``strict=False`` (tasks that use no run parameter, only the database and data sources) parameters that do
    not resolve are replaced by the config's, and the locations and secrets still apply.
    """
    values, secrets = explicit_values(conf), connection_secrets()
    try:
        return resolve_run_inputs(values, environ=os.environ, core=core, secrets=secrets, tickers_given=True)
    except ParameterError:
        if strict:
            raise
    keys = [key for key in ENV_FALLBACKS if key in LOCATION_KEYS]
    environ = {ENV_FALLBACKS[k]: os.environ[ENV_FALLBACKS[k]] for k in keys if ENV_FALLBACKS[k] in os.environ}
    return resolve_run_inputs({k: values[k] for k in keys if k in values}, environ=environ, core=core,
                              secrets=secrets, tickers_given=True)
