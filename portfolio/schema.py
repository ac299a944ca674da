"""Schema of the portfolio database, as an append-only list of migrations, for SQLite and PostgreSQL.

The migrations are written once, in SQL both databases accept, with two exceptions that DDL cannot avoid and
:func:`migration_script` rewrites for PostgreSQL: ``INTEGER PRIMARY KEY AUTOINCREMENT`` (an identity column
there) and ``REAL`` (single precision there; ``DOUBLE PRECISION`` keeps SQLite's 8-byte floats). The applied
version is ``PRAGMA user_version`` on SQLite and the one row of table ``schema_version`` on PostgreSQL.
"""

from __future__ import annotations

import re

MIGRATIONS: list[str] = [
    # 1: market data, forecasts, signals, paper broker, dead letters
    """
    CREATE TABLE ohlcv (
        ticker TEXT NOT NULL,
        date TEXT NOT NULL,              -- ISO session date (YYYY-MM-DD)
        open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
        volume REAL NOT NULL,
        source TEXT NOT NULL,
        ingested_at TEXT NOT NULL,
        PRIMARY KEY (ticker, date)
    );
    CREATE TABLE etl_runs (
        run_id TEXT NOT NULL,
        ticker TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL,            -- running | success | failed | rejected
        source TEXT,
        rows_loaded INTEGER NOT NULL DEFAULT 0,
        message TEXT,
        PRIMARY KEY (run_id, ticker)
    );
    CREATE TABLE forecasts (
        run_id TEXT NOT NULL,
        ticker TEXT NOT NULL,
        model TEXT NOT NULL,             -- sarimax | garch | ssa | ensemble
        created_at TEXT NOT NULL,
        as_of TEXT NOT NULL,             -- last bar used
        step INTEGER NOT NULL,           -- 1..horizon
        target_date TEXT NOT NULL,
        expected_return REAL,            -- forecast log return for the step
        price REAL,                      -- forecast price
        volatility REAL,                 -- forecast sigma of the return
        lower REAL, upper REAL,
        PRIMARY KEY (run_id, ticker, model, step)
    );
    CREATE TABLE forecast_metrics (
        run_id TEXT NOT NULL,
        ticker TEXT NOT NULL,
        model TEXT NOT NULL,
        mape REAL, rmse REAL, directional_accuracy REAL,
        PRIMARY KEY (run_id, ticker, model)
    );
    CREATE TABLE signals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        ticker TEXT NOT NULL,
        bar TEXT NOT NULL,               -- bar timestamp the signal was computed on
        created_at TEXT NOT NULL,
        action TEXT NOT NULL,            -- BUY | SELL | HOLD
        confidence REAL NOT NULL,
        expected_return REAL NOT NULL,
        source TEXT NOT NULL,            -- time_series | fallback
        realized_return REAL,            -- filled by the nightly backfill
        validated_at TEXT
    );
    CREATE INDEX signals_ticker_bar ON signals (ticker, bar);
    CREATE TABLE trades (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        ticker TEXT NOT NULL,
        bar TEXT NOT NULL,
        ts TEXT NOT NULL,
        side TEXT NOT NULL,              -- BUY | SELL
        quantity REAL NOT NULL,
        price REAL NOT NULL,
        cost REAL NOT NULL,              -- commission + spread + slippage, USD
        realized_pnl REAL,               -- on sells
        mode TEXT NOT NULL DEFAULT 'standard'  -- standard | core
    );
    CREATE INDEX trades_ticker_ts ON trades (ticker, ts);
    CREATE TABLE positions (
        ticker TEXT PRIMARY KEY,
        quantity REAL NOT NULL,
        avg_price REAL NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        cash REAL NOT NULL,
        initial_cash REAL NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE equity_snapshots (
        ts TEXT NOT NULL,
        run_id TEXT NOT NULL,
        cash REAL NOT NULL,
        equity REAL NOT NULL,
        pnl REAL NOT NULL,
        PRIMARY KEY (ts, run_id)
    );
    CREATE TABLE bar_state (
        mode TEXT NOT NULL,              -- standard | core
        ticker TEXT NOT NULL,
        last_bar TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (mode, ticker)
    );
    CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        dag_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        map_index INTEGER NOT NULL DEFAULT -1,
        ticker TEXT,
        try_number INTEGER,
        error_type TEXT,
        error TEXT,
        replayed_at TEXT,
        replay_status TEXT,
        UNIQUE (dag_id, task_id, run_id, map_index)
    );
    """,
    # 2 (forecasting and trading): forecasts.confidence (ensemble confidence in [0, 1]),
    # forecast_metrics.converged / fit_seconds / created_at (non-convergence and latency are recorded),
    # equity_snapshots.bar (the bar a snapshot marks; quant health keeps the last snapshot per bar),
    # and an index for "latest forecast of a ticker for a bar".
    """
    ALTER TABLE forecasts ADD COLUMN confidence REAL;
    ALTER TABLE forecast_metrics ADD COLUMN converged INTEGER;
    ALTER TABLE forecast_metrics ADD COLUMN fit_seconds REAL;
    ALTER TABLE forecast_metrics ADD COLUMN created_at TEXT;
    ALTER TABLE equity_snapshots ADD COLUMN bar TEXT;
    CREATE INDEX forecasts_ticker_model_asof ON forecasts (ticker, model, as_of);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
VERSION_TABLE = "schema_version"  # PostgreSQL only (SQLite keeps the version in PRAGMA user_version)

_POSTGRESQL_DDL = (
    (re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", re.IGNORECASE),
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
)


def migration_script(number: int, backend: str) -> str:
    """The DDL of migration ``number`` (1-based) for ``backend`` (``sqlite`` or ``postgresql``)."""
    script = MIGRATIONS[number - 1]
    if backend == "postgresql":
        for pattern, replacement in _POSTGRESQL_DDL:
            script = pattern.sub(replacement, script)
    return script
