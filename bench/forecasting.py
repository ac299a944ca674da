"""Benchmark: forecast N tickers of ~500 bars (fit, holdout, ensemble, persistence) and one trading cycle.

Seeds a private PMX_HOME with deterministic random-walk bars, then prints per-ticker forecast latency
(mean, p95, max), per-model fit seconds and the time of one auto-trader cycle over the stored forecasts.
BLAS is limited to one thread first (as the entrypoints do). Run:
``.venv/bin/python bench/forecasting.py [--tickers 50] [--bars 500] [--parallel-forecasts]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def main() -> None:
    """Seed, forecast every ticker, trade once, print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickers", type=int, default=50)
    parser.add_argument("--bars", type=int, default=500)
    parser.add_argument("--parallel-forecasts", action="store_true")
    args = parser.parse_args()
    from portfolio.automation import limit_blas_threads

    limit_blas_threads()
    home = tempfile.mkdtemp(prefix="pmx-bench-")
    os.environ.update({"PMX_HOME": home, "PMX_LOG_DIR": f"{home}/logs", "PMX_STATSD_ENABLED": "false",
                       "PORTFOLIO_DB_PATH": f"{home}/data/portfolio_maximizer.db",
                       "ENABLE_PARALLEL_FORECASTS": "1" if args.parallel_forecasts else "0"})
    import numpy as np

    from portfolio.database_manager import DatabaseManager
    from portfolio.forecasting import forecast_ticker
    from portfolio.params import resolve
    from portfolio.trader import run_cycle

    db = DatabaseManager()
    tickers = [f"T{i:03d}" for i in range(args.tickers)]
    offsets = np.busday_offset(np.datetime64("2022-01-03"), np.arange(args.bars), roll="forward")
    days = [str(d) for d in offsets]
    with db.transaction() as conn:
        for i, t in enumerate(tickers):
            rng = np.random.default_rng(i)
            closes = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, args.bars)))
            conn.executemany("INSERT INTO ohlcv VALUES (?, ?, ?, ?, ?, ?, 1e6, 'bench', 'now')",
                             [(t, d, c, c, c, c) for d, c in zip(days, closes, strict=True)])
    started = time.perf_counter()
    forecast_ticker(db, tickers[0], "warm-up")  # imports, exchange calendar: once per process
    warm = time.perf_counter() - started
    per_ticker, per_model = [], {}
    for t in tickers:
        t0 = time.perf_counter()
        out = forecast_ticker(db, t, "bench")
        per_ticker.append(time.perf_counter() - t0)
        for model, secs in out["fit_seconds"].items():
            per_model.setdefault(model, []).append(secs)
    per_ticker.sort()
    print(f"tickers={args.tickers} bars={args.bars} parallel_forecasts={args.parallel_forecasts}")
    print(f"first call (imports + calendar + fit): {warm:.2f} s")
    mean_ms = statistics.mean(per_ticker) * 1000
    p95_ms = per_ticker[int(0.95 * (len(per_ticker) - 1))] * 1000
    print(f"forecast_ticker: total {sum(per_ticker):.2f} s, mean {mean_ms:.0f} ms, p95 {p95_ms:.0f} ms, "
          f"max {per_ticker[-1] * 1000:.0f} ms")
    for model, secs in per_model.items():
        print(f"  {model:8s} fit+holdout+forecast mean {statistics.mean(secs) * 1000:.0f} ms")
    t0 = time.perf_counter()
    summary = run_cycle(resolve(tickers=",".join(tickers)), "bench-cycle")
    print(f"run_cycle over stored forecasts: {time.perf_counter() - t0:.2f} s "
          f"(traded {summary['traded']}, signals {summary['signals']})")


if __name__ == "__main__":
    main()
