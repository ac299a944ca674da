"""Load Airflow's task runtime, plugins and task listeners once, in the LocalExecutor's fork server, not in every
task.

Each task process builds the task-SDK listener manager on its first hook call: it loads every plugin and
provider listener (the add-on's and OpenLineage's), about 0.7 s of CPU per task instance on the development
machine. Listed in ``[core] mp_forkserver_preload`` next to the pipeline's own warm-up (``config/airflow.yml``),
this module builds the manager in the fork server, so every worker and task process inherits it ready
(copy-on-write). The listeners it loads are fork-safe: they reset their locks and queues in the child.

It also imports the modules of Airflow's own task path (:data:`TASK_RUNTIME`): the executor's worker, the
supervisor, the task runner, the DAG bag and the CLI parser. Every worker and task imports them after the fork
otherwise, about 240 modules; the OpenLineage listener happened to import most of them, so that turning lineage
*off* made every DAG slower (``bench/lineage_overhead.py``, docs/operations.md).

Any failure is caught and counted (``component=addon, reason=warm_start``): a task then loads its plugins
itself, as without this module, and the fork server still starts.
"""

from __future__ import annotations

import importlib

TASK_RUNTIME = ("airflow.executors.local_executor", "airflow.sdk.execution_time.supervisor",
                "airflow.sdk.execution_time.task_runner", "airflow.dag_processing.dagbag", "airflow.cli.cli_parser")

try:
    from airflow.sdk.listener import get_listener_manager

    for module in TASK_RUNTIME:
        importlib.import_module(module)
    get_listener_manager()
except Exception as exc:  # never stop the fork server: the task processes fall back to loading plugins
    from foundation.failures import report_failure

    report_failure("addon", "warm_start", exc)
