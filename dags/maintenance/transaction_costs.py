"""transaction_costs: monthly transaction-cost estimation (cron `15 4 1 * *`)."""

from __future__ import annotations

from airflow.sdk import DAG

from orchestration.dag_defaults import dag_kwargs, retry_args
from orchestration.operators import TransactionCostOperator

with DAG(**dag_kwargs("transaction_costs")) as dag:
    TransactionCostOperator(task_id="estimate_transaction_costs", **retry_args("maintenance"))
