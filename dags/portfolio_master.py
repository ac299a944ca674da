"""portfolio_master: env_sanity -> daily_etl -> auto_trader, with monitoring in parallel (seed Phase 3.1).

One run chains the pre-market day: the environment gate skips the ETL when it fails, and the trading halt it
records skips trading (``trading_allowed``). Trading and monitoring wait for the ETL's end, ``failed_tickers``
and ``retry_failed`` (skipped when no ticker failed), and still run when some tickers failed (``all_done``).
The performance report comes last, once trading and monitoring have ended, and describes this run.
"""

from __future__ import annotations

from airflow.sdk import DAG

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
    etl = etl_group()
    environment_ok >> etl.group
    work = [trading_group(trigger_rule="all_done"),
            monitoring_group(trigger_rule="all_done", report=False)]
    for end in etl.ends:
        end >> work
    run_report_task(after=work)
