"""Benchmark: build the performance report for an empty database and for ~1 year of trading history.

Seeds a private PMX_HOME with a year of daily equity snapshots, ~1000 trades, forecast metrics, backfilled
signals, OHLCV and a month of listener DAG events, then prints the build times (no Airflow API queried).
Run: ``.venv/bin/python bench/performance_report.py [--png]``.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

TICKERS = ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA")
DAGS = {"daily_etl": ("extract", "validate", "load", "forecast"), "auto_trader": ("market_open", "trade"),
        "monitoring": ("pipeline_health", "database_health", "performance")}


def seed(days: int = 365, trades: int = 1000) -> dict[str, int]:
    """Write the history into the database and the event log of the current PMX_HOME."""
    from foundation.clock import utc_iso
    from foundation.pipeline_logger import get_logger
    from portfolio.database_manager import DatabaseManager

    rng = random.Random(7)
    now = datetime.now(UTC)
    start = now - timedelta(days=days)
    every_day = [start + timedelta(days=i) for i in range(days + 1)]
    weekdays = [d for d in every_day if d.weekday() < 5]
    equity, snaps = 100_000.0, []
    for day in weekdays:
        equity *= 1 + rng.gauss(0.0004, 0.01)
        snaps.append((utc_iso(day.replace(hour=20)), f"r{day:%Y%m%d}", equity * 0.3, equity, equity - 100_000,
                      day.strftime("%Y-%m-%d")))
    trade_rows = []
    for i in range(trades):
        day = weekdays[i * len(weekdays) // trades]
        side = "BUY" if i % 2 == 0 else "SELL"
        trade_rows.append((f"r{day:%Y%m%d}", TICKERS[i % len(TICKERS)], day.strftime("%Y-%m-%d"),
                           utc_iso(day.replace(hour=15, minute=i % 60)), side, 10.0, 100 + rng.random() * 50,
                           1.2, rng.gauss(20, 80) if side == "SELL" else None, "standard"))
    db = DatabaseManager()
    with db.transaction() as conn:
        conn.executemany("INSERT INTO equity_snapshots (ts, run_id, cash, equity, pnl, bar) "
                         "VALUES (?,?,?,?,?,?)", snaps)
        conn.executemany("INSERT INTO trades (run_id, ticker, bar, ts, side, quantity, price, cost, "
                         "realized_pnl, mode) VALUES (?,?,?,?,?,?,?,?,?,?)", trade_rows)
        for n, day in enumerate(weekdays[-60:]):
            for t in TICKERS:
                for model in ("sarimax", "garch", "ssa", "ensemble"):
                    conn.execute("INSERT INTO forecast_metrics (run_id, ticker, model, mape, rmse, "
                                 "directional_accuracy, converged, fit_seconds, created_at) "
                                 "VALUES (?,?,?,?,?,?,?,?,?)",
                                 (f"f{n}", t, model, rng.random() * 0.05, rng.random() * 3, rng.random(), 1,
                                  rng.random(), utc_iso(day)))
                conn.execute("INSERT INTO signals (run_id, ticker, bar, created_at, action, confidence, "
                             "expected_return, source, realized_return, validated_at) "
                             "VALUES (?,?,?,?,?,?,?,?,?,?)",
                             (f"f{n}", t, day.strftime("%Y-%m-%d"), utc_iso(day),
                              rng.choice(("BUY", "SELL", "HOLD")), 0.6, 0.01, "time_series",
                              rng.gauss(0, 0.02), utc_iso(day)))
        for t in TICKERS:
            conn.executemany("INSERT INTO ohlcv VALUES (?, ?, 1, 2, 0.5, 1.5, 100, 'synthetic', ?)",
                             [(t, d.strftime("%Y-%m-%d"), utc_iso(d)) for d in weekdays[:-1]])
    log = get_logger("listener")
    events = 0
    for day in weekdays[-22:]:
        for dag_id, task_ids in DAGS.items():
            for k in range(14 if dag_id == "auto_trader" else 1):
                run_id = f"scheduled__{day:%Y-%m-%d}T{k:02d}"
                ok = rng.random() > 0.05
                for task_id in task_ids:
                    log.log_event("task_success" if ok else "task_failed", level="info" if ok else "error",
                                  dag_id=dag_id, task_id=task_id, run_id=run_id,
                                  state="success" if ok else "failed", duration_s=rng.random() * 30)
                    events += 1
                log.log_event("dag_run_success" if ok else "dag_run_failed", dag_id=dag_id, run_id=run_id,
                              state="success" if ok else "failed", duration_s=rng.random() * 120)
                events += 1
    return {"snapshots": len(snaps), "trades": len(trade_rows), "events": events}


def main() -> None:
    """Seed a temporary home, build the reports and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--png", action="store_true", help="also time the PNG export of the full report")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pmx-bench-report-") as tmp:
        home = Path(tmp)
        os.environ.update({"PMX_HOME": str(home), "PMX_LOG_DIR": str(home / "logs"),
                           "PMX_STATSD_ENABLED": "false",
                           "PORTFOLIO_DB_PATH": str(home / "data" / "portfolio_maximizer.db")})
        began = time.perf_counter()
        from monitoring.performance_dashboard import build_report

        print(f"import: {time.perf_counter() - began:.2f}s")
        for label in ("empty DB (first call)", "empty DB (second call)"):
            t0 = time.perf_counter()
            result = build_report(home / "empty", include_airflow=False)
            print(f"{label}: {time.perf_counter() - t0:.2f}s  counts={result['counts']}")
        t0 = time.perf_counter()
        sizes = seed()
        print(f"seeding {sizes}: {time.perf_counter() - t0:.2f}s")
        for days in (30, 365):
            for attempt in (1, 2):
                t0 = time.perf_counter()
                result = build_report(home / f"full{days}", include_airflow=False, days=days)
                html_mb = Path(result["html"]).stat().st_size / 1e6
                print(f"1-year DB, days={days} (call {attempt}): {time.perf_counter() - t0:.2f}s  "
                      f"html={html_mb:.1f} MB counts={result['counts']}")
        if args.png:
            t0 = time.perf_counter()
            result = build_report(home / "png", include_airflow=False, days=365, png=True)
            outcome = result["png"] or result["png_error"]
            print(f"1-year DB with PNG: {time.perf_counter() - t0:.2f}s  png={outcome}")


if __name__ == "__main__":
    main()
