"""portfolio_master: env_sanity -> daily_etl -> auto_trader, with monitoring in parallel (seed Phase 3.1).

One run chains the pre-market day: the environment gate skips everything downstream when it fails; trading
and monitoring still run when only some tickers failed their ETL (trigger rule ``none_skipped``/``all_done``).
The performance report comes last, once trading and monitoring have ended, and describes this run.
"""

from __future__ import annotations

from airflow.sdk import DAG

from orchestration import tasks
from orchestration.dag_defaults import dag_kwargs
from orchestration.task_groups import (
    env_sanity_group,
    etl_group,
    monitoring_group,
    run_report_task,
    trading_group,
)

with DAG(**dag_kwargs("portfolio_master")) as dag:
    environment_ok = env_sanity_group()
    tickers = tasks.resolve_tickers()
    environment_ok >> tickers
    work = [trading_group(trigger_rule="none_skipped"), monitoring_group(trigger_rule="all_done", report=False)]
    etl_group(tickers) >> work
    run_report_task(after=work)
