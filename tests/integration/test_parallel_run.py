"""The parallel run of docs/migration.md for real: ``daily_etl`` by its cron entrypoint and by its DAG
(``DAG.test()`` in a subprocess, no stack), on the same synthetic inputs, gives the same outputs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from local_stack.cutover.parallel_run import Inputs, parallel_run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

# 146 sessions: more than forecasting.min_history (120), so the forecast stage runs on both sides
INPUTS = Inputs(tickers="AAPL,MSFT", start_date="2024-01-02", end_date="2024-07-31")


def test_daily_etl_under_cron_and_as_its_dag_gives_the_same_outputs(tmp_path: Path) -> None:
    outcome = parallel_run("daily_etl", INPUTS, tmp_path, progress=print)
    assert [d.line() for d in outcome.differences] == []
    assert outcome.cron_run_id.startswith("manual__") and outcome.airflow_run_id.startswith("manual__")
    assert outcome.cron_run_id != outcome.airflow_run_id
    for home in (outcome.cron_home, outcome.airflow_home):  # equal because both did the work, not because neither did
        with sqlite3.connect(home / "data" / "portfolio_maximizer.db") as conn:
            tickers = {r[0] for r in conn.execute("SELECT DISTINCT ticker FROM ohlcv")}
            models = {r[0] for r in conn.execute("SELECT DISTINCT model FROM forecasts")}
        conn.close()
        assert tickers == {"AAPL", "MSFT"}
        assert {"sarimax", "garch", "ssa", "ensemble"} <= models
        assert len(list((home / "data" / "checkpoints").glob("*/forecast.json"))) == 2
