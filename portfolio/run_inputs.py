"""The inputs of one run, resolved once into a frozen value and passed explicitly to the entrypoints.

Each parameter is taken from the first source that has it: the explicit ``values`` (the command line, or under
Airflow ``dag_run.conf`` over the ``portfolio.*`` Variables), then the ``environ`` fallback given by the caller
(``CRON_TICKERS``, ``PIPELINE_DEVICE``, ``PORTFOLIO_DB_PATH``, ``PORTFOLIO_DB_DSN``...), then
``config/pipeline.yml``. Nothing here writes to ``os.environ``: callers pass the :class:`RunInputs` on, and the
domain reads the values that are not run parameters (database path or DSN, synthetic dataset, data-source
secrets) from :mod:`portfolio.run_scope`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from portfolio.params import RunParams, parse_tickers, resolve

# ``values`` key (also the ``dag_run.conf`` key) -> environment variable of the seed it falls back to
ENV_FALLBACKS: dict[str, str] = {
    "tickers": "CRON_TICKERS",
    "start_date": "CRON_START_DATE",
    "end_date": "CRON_END_DATE",
    "execution_mode": "CRON_EXEC_MODE",
    "pipeline_device": "PIPELINE_DEVICE",
    "enable_gpu_parallel": "ENABLE_GPU_PARALLEL",
    "enable_parallel_tickers": "ENABLE_PARALLEL_TICKER_PROCESSING",
    "enable_parallel_forecasts": "ENABLE_PARALLEL_FORECASTS",
    "synthetic_dataset_id": "SYNTHETIC_DATASET_ID",
    "database_path": "PORTFOLIO_DB_PATH",
    "database_dsn": "PORTFOLIO_DB_DSN",
}
# where data is, not how a run behaves
LOCATION_KEYS = frozenset({"synthetic_dataset_id", "database_path", "database_dsn"})


@dataclass(frozen=True)
class RunInputs:
    """Everything a run takes from outside its code: parameters, data locations and data-source secrets.

    ``secrets`` maps a secret's name (``ALPHA_VANTAGE_API_KEY``) to its value; it is never part of the repr,
    and neither is ``database_dsn`` (a PostgreSQL connection string may carry a password).
    ``tickers_given`` says whether the universe was named (argument, conf, Variable or ``CRON_TICKERS``)
    rather than taken from the config default.
    """

    params: RunParams
    synthetic_dataset_id: str | None = None
    database_path: str | None = None
    database_dsn: str | None = field(default=None, repr=False)
    tickers_given: bool = False
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def for_tickers(self, tickers: str | list[str]) -> RunInputs:
        """The same inputs narrowed to ``tickers`` (one mapped ticker of a run)."""
        return replace(self, params=replace(self.params, tickers=parse_tickers(tickers, "tickers")),
                       tickers_given=True)

    def secret(self, name: str) -> str | None:
        """The value of secret ``name`` carried by these inputs, if any."""
        return self.secrets.get(name) or None


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def resolve_run_inputs(values: Mapping[str, Any] | None = None, *, environ: Mapping[str, str],
                       core: bool = False, secrets: Mapping[str, str] | None = None,
                       tickers_given: bool | None = None, today: date | None = None) -> RunInputs:
    """Resolve the inputs of one run (raises :class:`portfolio.params.ParameterError` on a bad value).

    ``values`` holds explicit values by :data:`ENV_FALLBACKS` key; ``environ`` is the fallback environment;
    ``core`` selects the core ticker universe as the default.
    """
    values = dict(values or {})
    params = resolve(tickers=values.get("tickers"), start=values.get("start_date"), end=values.get("end_date"),
                     mode=values.get("execution_mode"), pipeline_device=values.get("pipeline_device"),
                     enable_gpu_parallel=values.get("enable_gpu_parallel"),
                     enable_parallel_tickers=values.get("enable_parallel_tickers"),
                     enable_parallel_forecasts=values.get("enable_parallel_forecasts"),
                     core=core, today=today, environ=environ)

    def pick(key: str) -> str | None:
        return _text(values.get(key)) or _text(environ.get(ENV_FALLBACKS[key]))

    if tickers_given is None:
        tickers_given = pick("tickers") is not None
    return RunInputs(params=params, synthetic_dataset_id=pick("synthetic_dataset_id"),
                     database_path=pick("database_path"), database_dsn=pick("database_dsn"),
                     tickers_given=tickers_given,
                     secrets=dict(secrets or {}))


def default_inputs(*, core: bool = False) -> RunInputs:
    """The inputs of a run given nothing: the config's values (no environment fallback)."""
    return resolve_run_inputs(environ={}, core=core)
