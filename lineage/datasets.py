"""The one naming scheme of the pipeline's OpenLineage datasets: a namespace and a path-like name.

Every dataset lives in the configured namespace (``config/lineage.yml``, default ``portfolio_maximizer``); the
name says what it is, from the general to the particular (docs/lineage.md has the table):

* ``market_data/<provider>/<TICKER>``: one market-data provider's API for one ticker
  (``yfinance``, ``alpha_vantage``, ``finnhub``);
* ``synthetic/<TICKER>``: the synthetic market data of one ticker (the dataset id is its *version*);
* ``db/<table>``: a table of the SQLite portfolio database;
* ``checkpoints/<pipeline>``, ``staging``, ``cache/market_data``: the ETL's working files;
* ``automation/<file>`` (``logs/automation/``), ``logs/<file>`` (monitoring JSON), ``logs/pipeline`` (the JSON
  event log), ``reports/<file>``, ``backups/db``.

Names only: this module knows no domain code (the add-on never imports the trading pipeline).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from lineage.settings import dataset_namespace

SYNTHETIC = "synthetic"
PROVIDERS = ("yfinance", "alpha_vantage", "finnhub", SYNTHETIC)
TABLES = ("ohlcv", "etl_runs", "forecasts", "forecast_metrics", "signals", "trades", "positions", "account",
          "equity_snapshots", "bar_state", "dead_letters")
# the words for tables whose real name differs (portfolio/schema.py)
TABLE_ALIASES = {"quality_results": "etl_runs", "equity": "equity_snapshots"}
_PART = re.compile(r"^[A-Za-z0-9^=][A-Za-z0-9_.^=-]{0,99}$")


class DatasetName(NamedTuple):
    """An OpenLineage dataset identity."""

    namespace: str
    name: str


def _part(value: str, what: str) -> str:
    if not _PART.match(value):
        raise ValueError(f"{what} {value!r}: not a valid dataset name part")
    return value


def named(name: str, namespace: str | None = None) -> DatasetName:
    """``name`` in the configured namespace (or ``namespace``)."""
    return DatasetName(namespace or dataset_namespace(), name)


def market_data(provider: str, ticker: str, namespace: str | None = None) -> DatasetName:
    """A provider's API for one ticker; the synthetic source is the synthetic dataset of that ticker."""
    if provider == SYNTHETIC:
        return synthetic(ticker, namespace)
    return named(f"market_data/{_part(provider, 'provider')}/{_part(ticker.upper(), 'ticker')}", namespace)


def synthetic(ticker: str, namespace: str | None = None) -> DatasetName:
    """The synthetic market data of one ticker (versioned by the synthetic dataset id)."""
    return named(f"synthetic/{_part(ticker.upper(), 'ticker')}", namespace)


def table(name: str, namespace: str | None = None) -> DatasetName:
    """A table of the SQLite portfolio database (``quality_results`` and ``equity`` are aliases)."""
    real = TABLE_ALIASES.get(name, name)
    if real not in TABLES:
        raise ValueError(f"table {name!r}: expected one of {', '.join(TABLES)}")
    return named(f"db/{real}", namespace)


def table_of(dataset: DatasetName) -> str | None:
    """The table name of a ``db/<table>`` dataset, else ``None``."""
    prefix, _, rest = dataset.name.partition("/")
    return rest if prefix == "db" and rest in TABLES else None


def checkpoints(pipeline: str, namespace: str | None = None) -> DatasetName:
    """The checkpoints of one kind of pipeline (``etl``)."""
    return named(f"checkpoints/{_part(pipeline, 'pipeline')}", namespace)


def automation(file: str, namespace: str | None = None) -> DatasetName:
    """A JSON output under ``logs/automation/``."""
    return named(f"automation/{_part(file, 'file')}", namespace)


def log_file(file: str, namespace: str | None = None) -> DatasetName:
    """A JSON output directly under ``logs/`` (the monitoring job's), or ``pipeline`` for the event log."""
    return named(f"logs/{_part(file, 'file')}", namespace)


def report(file: str, namespace: str | None = None) -> DatasetName:
    """A generated report file under ``reports/``."""
    return named(f"reports/{_part(file, 'file')}", namespace)


def staging(namespace: str | None = None) -> DatasetName:
    """The ETL's staged extracts (``data/staging``)."""
    return named("staging", namespace)


def cache(namespace: str | None = None) -> DatasetName:
    """The market-data disk cache."""
    return named("cache/market_data", namespace)


def backups(namespace: str | None = None) -> DatasetName:
    """The online backups of the portfolio database."""
    return named("backups/db", namespace)
