"""Load Airflow's plugins and task listeners once, in the LocalExecutor's fork server, not in every task.

Each task process builds the task-SDK listener manager on its first hook call: it loads every plugin and
provider listener (the add-on's and OpenLineage's), about 0.7 s of CPU per task instance on the development
machine. Listed in ``[core] mp_forkserver_preload`` next to the pipeline's own warm-up (``config/airflow.yml``),
this module builds the manager in the fork server, so every worker and task process inherits it ready
(copy-on-write). The listeners it loads are fork-safe: they reset their locks and queues in the child.

Any failure is caught and counted (``component=addon, reason=warm_start``): a task then loads its plugins
itself, as without this module, and the fork server still starts.
"""

from __future__ import annotations

try:
    from airflow.sdk.listener import get_listener_manager

    get_listener_manager()
except Exception as exc:  # never stop the fork server: the task processes fall back to loading plugins
    from foundation.failures import report_failure

    report_failure("addon", "warm_start", exc)
