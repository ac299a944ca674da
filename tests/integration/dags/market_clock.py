"""market_clock_slow: the real trading group (shipped market_hours settings), then a deliberately slow step.

For tests/integration/test_market_clock.py. The deadline is the shipped ``auto_trader_cycle`` SLA (reference
``queued``, severity critical, channels as shipped) with only its budget shortened to ``SLOW_BUDGET``, so that
a slow cycle misses it in seconds; ``conf["sleep"]`` (default 25 s) is how long the slow step sleeps after
the cycle has traded. Nothing in the project reads that knob.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from alerts.deadlines import deadline_alerts
from alerts.sla_config import load_sla_config
from orchestration.task_groups import trading_group

SLOW_BUDGET = timedelta(seconds=10)
SLA_NAME = "market_clock_slow_cycle"

shipped = load_sla_config().by_name("auto_trader_cycle")
assert shipped is not None
slow_spec = shipped.model_copy(update={"name": SLA_NAME, "dag_id": "market_clock_slow", "interval": SLOW_BUDGET})

with DAG("market_clock_slow", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=4,
         tags=["test", "market-clock"], deadline=deadline_alerts(slow_spec),
         default_args={"retries": 2, "retry_delay": timedelta(seconds=2)}):

    @task(trigger_rule="all_done")
    def slow_step(dag_run=None) -> float:  # type: ignore[no-untyped-def]
        import time

        seconds = float((dag_run.conf or {}).get("sleep", 25))
        time.sleep(seconds)
        return seconds

    trading_group() >> slow_step()
