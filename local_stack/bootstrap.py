"""Idempotently create the pools, ``portfolio.*`` Variables and Connections the DAG set needs.

Runs against the metadata database of the current ``AIRFLOW_HOME`` (after ``airflow db migrate``):
``python -m local_stack.bootstrap [--reset-variables]``. Pools always follow ``config/orchestration.yml``;
Variables are created when missing and only overwritten with ``--reset-variables``; API keys for the
Connections come from the environment or ``.env`` and are never printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from orchestration.config import load_orchestration
from orchestration.runtime import CONNECTIONS, DATABASE_CONNECTION, VARIABLES, seed_defaults


def ensure_pools() -> dict[str, int]:
    """Create or resize every configured pool; return name -> slots."""
    from airflow.models.pool import Pool

    pools = load_orchestration().pools
    for name, spec in pools.items():
        Pool.create_or_update_pool(name=name, slots=spec.slots, description=spec.description, include_deferred=False)
    return {name: spec.slots for name, spec in pools.items()}


def ensure_variables(reset: bool = False) -> dict[str, str]:
    """Create missing ``portfolio.*`` Variables with their defaults; return the ones written."""
    from airflow.models.variable import Variable

    defaults = seed_defaults()
    written: dict[str, str] = {}
    for spec in VARIABLES:
        if reset or Variable.get(spec.name, default_var=None) is None:
            Variable.set(spec.name, defaults[spec.name], description=f"{spec.description} (fallback: {spec.env})")
            written[spec.name] = defaults[spec.name]
    return written


def ensure_connections() -> list[str]:
    """Create missing Connections: the portfolio database and the market-data APIs; return the ones created."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    from portfolio.database_manager import default_db_path
    from portfolio.secret_loader import get_secret

    wanted: dict[str, dict[str, Any]] = {
        DATABASE_CONNECTION: {"conn_type": "sqlite", "host": str(default_db_path()),
                              "description": "Portfolio Maximizer SQLite database"},
        "alpha_vantage": {"conn_type": "http", "host": "https://www.alphavantage.co",
                          "description": "Alpha Vantage market data (API key in password)"},
        "finnhub": {"conn_type": "http", "host": "https://finnhub.io/api/v1",
                    "description": "Finnhub market data (API key in password)"},
    }
    created = []
    with create_session() as session:
        for conn_id, fields in wanted.items():
            existing = session.query(Connection).filter(Connection.conn_id == conn_id).one_or_none()
            secret = get_secret(CONNECTIONS[conn_id]) if conn_id in CONNECTIONS else None
            if existing is None:
                session.add(Connection(conn_id=conn_id, password=secret, **fields))
                created.append(conn_id)
            elif secret and not existing.password:
                existing.password = secret
    return created


def bootstrap(reset_variables: bool = False) -> dict[str, Any]:
    """Pools, Variables and Connections; return a summary without secret values."""
    return {"pools": ensure_pools(), "variables_written": sorted(ensure_variables(reset_variables)),
            "connections_created": ensure_connections()}


def main(argv: list[str] | None = None) -> int:
    """Command line entrypoint."""
    parser = argparse.ArgumentParser(prog="bootstrap", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reset-variables", action="store_true", help="overwrite Variables with their defaults")
    args = parser.parse_args(argv)
    summary = bootstrap(args.reset_variables)
    print(f"pools: {summary['pools']}")
    print(f"variables written: {summary['variables_written'] or 'none (all present)'}")
    print(f"connections created: {summary['connections_created'] or 'none (all present)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
