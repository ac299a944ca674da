"""End to end: the whole DAG set runs under the real scheduler while Airflow's and the project's StatsD traffic
flows through the StatsD-to-Prometheus bridge into a real Prometheus; then every dashboard panel query, every
recording rule and every template variable returns data through Prometheus's HTTP API.

With the zero fallbacks (``or on() vector(0)``) removed, every query must still return data except the ones in
``EVENT_DRIVEN``: series that only exist once something goes wrong (a green run of the DAG set cannot produce
them), and ``SAMPLED``: gauges of a state too short-lived to be caught by every run. The synthetic-traffic test in
test_prometheus_dashboards.py covers both sets' names.
"""

from __future__ import annotations

import pytest

from orchestration.config import DAG_IDS
from tests.harness.promql_probe import (
    PrometheusServer,
    panel_queries,
    probe,
    probe_everything,
    recording_rules,
    without_zero_fallback,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(1500)]  # see tests/wait_budget.py
# metric name fragments whose series appear only after a failure, a miss or an alert
EVENT_DRIVEN = {
    "pmx_sla_": "no SLA is missed by a green run",
    "airflow_deadline_alerts_missed": "no deadline is missed by a green run",
    "pmx_alerts_": "no incident is raised by a green run",
    "pmx_error_monitor_alerts": "no error threshold is crossed by a green run",
    "pmx_etl_quality_failures": "the synthetic data passes every quality rule",
    "pmx_etl_source_failovers": "synthetic mode never fails over",
    "pmx_observability_failures": "no observability path fails",
    "pmx_dag_processing_import_errors": "the DAG folder has no import errors",
    "ALERTS": "no Prometheus alert fires while the set is green",
    "pmx_trading_win_rate": "defined once a position is closed (a SELL); one synthetic day may only buy",
    "airflow_triggers_failed": "no trigger fails in a green run",
    "airflow_triggers_blocked_main_thread": "no trigger blocks the triggerer's event loop",
    'state="failed"': "no run or task of the green set fails (other modules' failures may have made them)",
    'state="up_for_retry"': "no task of the green set is retried",
}
# gauges the scheduler samples every ti_metrics_interval: a state that lasts about a second may never be sampled
SAMPLED = {
    "airflow_ti_queued": "a task is queued for about a second under LocalExecutor",
}


@pytest.fixture(scope="module")
def dag_set_ran(dag_set_runs: dict[str, dict]) -> dict[str, str]:
    return {dag_id: run["state"] for dag_id, run in dag_set_runs.items()}


def test_the_whole_dag_set_runs_green(dag_set_ran: dict[str, str]) -> None:
    assert dag_set_ran == {dag_id: "success" for dag_id in DAG_IDS}


def test_every_panel_rule_and_variable_returns_data(dag_set_ran: dict[str, str],
                                                    prometheus: PrometheusServer) -> None:
    assert probe_everything(prometheus, timeout=120) == {}


def test_without_zero_fallbacks_only_event_driven_series_are_missing(dag_set_ran: dict[str, str],
                                                                     prometheus: PrometheusServer) -> None:
    queries = [without_zero_fallback(q) for q in panel_queries() + recording_rules(by_expression=True)]
    observed = [q for q in queries if not any(fragment in q.expr for fragment in EVENT_DRIVEN | SAMPLED)]
    assert len(observed) > 40
    assert probe(prometheus, observed, timeout=60) == {}


def test_project_and_airflow_metrics_carry_the_dag_set_labels(dag_set_ran: dict[str, str],
                                                              prometheus: PrometheusServer) -> None:
    for metric in ("airflow_ti_finish_total", "pmx_task_events_total"):
        dag_ids = set(prometheus.label_values("dag_id", metric))
        assert set(DAG_IDS) <= dag_ids, (metric, sorted(set(DAG_IDS) - dag_ids))
    tickers = set(prometheus.label_values("ticker", "pmx_etl_rows_ingested_total"))
    assert {"AAPL", "MSFT"} <= tickers
