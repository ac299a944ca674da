"""Benchmark: ETL of 50 tickers x 5 years of daily bars in synthetic mode, with and without forecasting.

Runs in a throw-away PMX_HOME so it never touches the checkout's data. Prints wall time, time per ticker and
rows per second for each variant. Usage: ``.venv/bin/python bench/etl_synthetic.py [--tickers 50 --years 5]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

UNIVERSE = [
    "AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "JPM", "V", "UNH", "XOM", "JNJ", "WMT", "MA",
    "PG", "HD", "CVX", "MRK", "ABBV", "KO", "PEP", "AVGO", "COST", "LLY", "ADBE", "CSCO", "TMO", "MCD",
    "ACN", "ABT",
    "CRM", "DHR", "NKE", "LIN", "TXN", "NEE", "WFC", "PM", "ORCL", "AMD", "UPS", "BMY", "MS", "RTX", "HON",
    "INTC", "QCOM", "UNP", "LOW", "SBUX",
]


def _isolate() -> Path:
    home = Path(tempfile.mkdtemp(prefix="pmx-bench-etl-"))
    os.environ.update({"PMX_HOME": str(home), "PMX_LOG_DIR": str(home / "logs"),
                       "PORTFOLIO_DB_PATH": str(home / "data" / "portfolio_maximizer.db"),
                       "PMX_STATSD_ENABLED": "false"})
    for name in ("CRON_TICKERS", "CRON_START_DATE", "CRON_END_DATE", "CRON_EXEC_MODE",
                 "SYNTHETIC_DATASET_ID"):
        os.environ.pop(name, None)
    return home


def _variant(label: str, tickers: list[str], start: date, end: date, *, forecast: bool,
             parallel: bool) -> None:
    from portfolio.etl import run_etl
    from portfolio.params import resolve

    params = resolve(tickers=tickers, start=start, end=end, mode="synthetic",
                     enable_parallel_tickers=parallel)
    began = time.perf_counter()
    summary = run_etl(params, f"bench-{label}-{time.time_ns()}", forecast=forecast)
    wall = time.perf_counter() - began
    rows = summary["rows_loaded"]
    per_ticker = [r["seconds"] for r in summary["results"].values()]
    print(f"{label:<34} wall {wall:7.2f} s | per ticker mean {sum(per_ticker) / len(per_ticker):6.3f} s "
          f"(max {max(per_ticker):6.3f} s) | {rows} rows | {rows / wall:9.0f} rows/s")


def main() -> int:
    """Run the benchmark variants and print one line per variant."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickers", type=int, default=50)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--skip-forecast", action="store_true", help="only the variants without forecasting")
    parser.add_argument("--keep", action="store_true", help="keep the temporary PMX_HOME for inspection")
    args = parser.parse_args()
    home = _isolate()
    import importlib.util

    tickers = list(UNIVERSE[: args.tickers])
    end = date(2024, 12, 31)
    start = date(end.year - args.years + 1, 1, 1)
    from portfolio.calendar import sessions_between

    print(f"ETL benchmark: {len(tickers)} tickers x {len(sessions_between(start, end))} sessions "
          f"({start}..{end}), synthetic mode, {os.cpu_count()} CPUs, PMX_HOME={home}")
    warm = time.perf_counter()
    import pandera.pandas  # noqa: F401 - one-off import costs are not ETL costs

    print(f"(imports warmed in {time.perf_counter() - warm:.2f} s)")
    _variant("extract+validate+load, sequential", tickers, start, end, forecast=False, parallel=False)
    _variant("extract+validate+load, threads", tickers, start, end, forecast=False, parallel=True)
    has_forecasting = importlib.util.find_spec("portfolio.forecasting") is not None
    if args.skip_forecast:
        print("with forecasting: skipped (--skip-forecast)")
    elif not has_forecasting:
        print("with forecasting: unavailable (portfolio.forecasting not installed)")
    else:
        _variant("full ETL incl. forecast, threads", tickers, start, end, forecast=True, parallel=True)
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
