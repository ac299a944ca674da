"""Benchmark: build the performance report for an empty database, for ~1 year of trading history, and for 90 days
of DAG history with 10,000 task instances.

Seeds a private PMX_HOME with a year of daily equity snapshots, ~1000 trades, forecast metrics, backfilled
signals, OHLCV and a month of listener DAG events, then prints the build times (no Airflow API queried; the
backtest is off: ``backtest_origins=0`` and no stored forecasts). The 90-day case adds 10,000 task instances
(retries, CPU seconds, a master run per day) and SLA misses and warnings in the outbox, and builds the report from
the listener's events and from an in-memory REST API (queued times included). ``--backtest`` also times the
walk-forward backtest of the default tickers on a synthetic history (first call, then the cached one).
Run: ``.venv/bin/python bench/performance_report.py [--png] [--backtest]``.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


def seed_dag_history(days: int = 90, task_instances: int = 10_000) -> tuple[dict[str, int], dict[str, list]]:
    """Listener events and API rows of ``task_instances`` task instances over ``days`` days, plus SLA incidents."""
    from alerts.incident import Incident
    from alerts.outbox import Outbox
    from foundation.clock import utc_iso
    from foundation.pipeline_logger import get_logger

    rng = random.Random(11)
    now = datetime.now(UTC)
    dags = {"portfolio_master": [f"etl.extract_{i}" for i in range(6)] + ["etl.forecast", "trading.trade",
                                                                         "performance_report"],
            **DAGS}
    log = get_logger("listener")
    api: dict[str, list] = {"dag_runs": [], "task_instances": []}
    made, runs, k = 0, 0, 0
    while made < task_instances:
        dag_id = list(dags)[k % len(dags)]
        start = now - timedelta(days=days) + timedelta(seconds=(days * 86_400 - 7_200) * made / task_instances)
        run_id, k = f"scheduled__{start:%Y%m%dT%H%M%S}_{k}", k + 1
        t = start
        for task_id in dags[dag_id][: task_instances - made]:
            tries = 2 if rng.random() < 0.05 else 1
            for attempt in range(1, tries + 1):
                queued, began = t, t + timedelta(seconds=rng.random() * 5)
                end = began + timedelta(seconds=rng.random() * 40)
                state = "success" if attempt == tries else "up_for_retry"
                record: dict[str, Any] = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": -1,
                          "try_number": attempt, "state": state, "start_date": utc_iso(began),
                          "end_date": utc_iso(end), "duration_s": (end - began).total_seconds(),
                          "cpu_s": rng.random() * 20}
                log.log_event(f"task_{state}", **record)
                t = end
            api["task_instances"].append({"dag_run_id": run_id, "queued_when": utc_iso(queued),
                                          "duration": record["duration_s"], **record})
            made += 1
        log.log_event("dag_run_success", dag_id=dag_id, run_id=run_id, state="success", start_date=utc_iso(start),
                      end_date=utc_iso(t), duration_s=(t - start).total_seconds())
        api["dag_runs"].append({"dag_id": dag_id, "dag_run_id": run_id, "state": "success",
                                "queued_at": utc_iso(start - timedelta(seconds=2)), "start_date": utc_iso(start),
                                "end_date": utc_iso(t), "duration": (t - start).total_seconds()})
        runs += 1
    outbox = Outbox()
    for i, run in enumerate(api["dag_runs"][:: max(1, len(api["dag_runs"]) // 60)]):
        key = f"pmx-sla/{run['dag_id']}/bench/{run['dag_run_id']}"
        kind = "sla_miss" if i % 2 else "sla_warning"
        outbox.add_incident(Incident(kind=kind, dedup_key=key, severity="warning", summary="bench",
                                     dag_id=run["dag_id"], run_id=run["dag_run_id"],
                                     details={"sla": "bench", "deadline": run["start_date"],
                                              "diagnosis": "seeded by the benchmark"}))
    return {"task_instances": made, "dag_runs": runs}, api


class MemoryApi:
    """The two REST listings the report reads, answered from memory in pages."""

    base_url = "memory://bench"

    def __init__(self, rows: dict[str, list]) -> None:
        self.rows = rows

    def request(self, method: str, path: str, params: dict) -> dict:
        key = "dag_runs" if path == "/dags/~/dagRuns" else "task_instances"
        return {key: self.rows[key][params["offset"]:params["offset"] + params["limit"]]}


def bench_backtest(home: Path) -> None:
    """Time the walk-forward backtest on a synthetic history of the default tickers (first call, cached call)."""
    from datetime import date

    from foundation.clock import utc_iso
    from monitoring.performance_dashboard import build_report
    from portfolio.database_manager import DatabaseManager
    from portfolio.settings import load_settings
    from portfolio.synthetic import generate_ticker

    os.environ["PORTFOLIO_DB_PATH"] = str(home / "data" / "backtest.db")
    settings = load_settings()
    with DatabaseManager().transaction() as conn:
        for ticker in settings.tickers.default:
            frame = generate_ticker(ticker, date(2025, 1, 2), datetime.now(UTC).date() - timedelta(days=1))
            conn.executemany("INSERT INTO ohlcv VALUES (?,?,?,?,?,?,?, 'synthetic', ?)",
                             [(ticker, str(r.date)[:10], r.open, r.high, r.low, r.close, r.volume,
                               utc_iso(datetime.now(UTC))) for r in frame.itertuples()])
    for call in ("first", "cached"):
        t0 = time.perf_counter()
        result = build_report(home / "backtest", include_airflow=False)
        print(f"backtest ({settings.performance_report.backtest_origins} origins x "
              f"{len(settings.tickers.default)} tickers), {call} call: {time.perf_counter() - t0:.2f}s  "
              f"rows={result['counts']['backtest_rows']}")


def main() -> None:
    """Seed a temporary home, build the reports and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--png", action="store_true", help="also time the PNG export of the full report")
    parser.add_argument("--backtest", action="store_true", help="also time the walk-forward backtest")
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
            result = build_report(home / "empty", include_airflow=False, backtest_origins=0)
            print(f"{label}: {time.perf_counter() - t0:.2f}s  counts={result['counts']}")
        t0 = time.perf_counter()
        sizes = seed()
        print(f"seeding {sizes}: {time.perf_counter() - t0:.2f}s")
        for days in (30, 365):
            for attempt in (1, 2):
                t0 = time.perf_counter()
                result = build_report(home / f"full{days}", include_airflow=False, days=days, backtest_origins=0)
                html_mb = Path(result["html"]).stat().st_size / 1e6
                print(f"1-year DB, days={days} (call {attempt}): {time.perf_counter() - t0:.2f}s  "
                      f"html={html_mb:.1f} MB counts={result['counts']}")
        if args.png:
            t0 = time.perf_counter()
            result = build_report(home / "png", include_airflow=False, days=365, png=True, backtest_origins=0)
            outcome = result["png"] or result["png_error"]
            print(f"1-year DB with PNG: {time.perf_counter() - t0:.2f}s  png={outcome}")
        os.environ.update({"PMX_HOME": str(home / "dags90"), "PMX_LOG_DIR": str(home / "dags90" / "logs")})
        t0 = time.perf_counter()
        sizes, api_rows = seed_dag_history()
        print(f"seeding 90 days of DAG history {sizes}: {time.perf_counter() - t0:.2f}s")
        for label, kwargs in (("listener events", {"include_airflow": False}),
                              ("REST API (in memory)", {"airflow_api": MemoryApi(api_rows)})):
            for attempt in (1, 2):
                t0 = time.perf_counter()
                result = build_report(home / "dags90" / "report", days=90, backtest_origins=0, **kwargs)
                html_mb = Path(result["html"]).stat().st_size / 1e6
                print(f"90 days, 10,000 task instances from the {label} (call {attempt}): "
                      f"{time.perf_counter() - t0:.2f}s  html={html_mb:.1f} MB counts={result['counts']}")
        if args.backtest:
            bench_backtest(home / "dags90")


if __name__ == "__main__":
    main()
