"""Run one DAG once in-process with Airflow's ``DAG.test()``: the Airflow side of ``cutover parallel-run``.

``python -m local_stack.cutover.dag_test --dag-id daily_etl --conf '{"execution_mode": "synthetic", ...}'
--result FILE``

Meant to run in a subprocess whose environment points ``AIRFLOW_HOME`` (a migrated metadata database) and
``PMX_HOME`` at private directories (:func:`local_stack.cutover.parallel_run.run_dag`). ``DAG.test()`` runs every
task in this process, without a scheduler, an api-server or workers. Writes ``{"run_id", "state", "tasks"}`` as
JSON to ``--result`` (stdout carries Airflow's own log lines); exit 0 when the run succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from foundation.paths import REPO_ROOT


def run(dag_id: str, conf: dict[str, object]) -> dict[str, object]:
    """Run ``dag_id`` once with ``conf``; return its run id, state and task states."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    dag = bag.get_dag(dag_id)
    if dag is None:
        errors = ", ".join(bag.import_errors) or "no import errors"
        raise SystemExit(f"dag_test: no DAG {dag_id!r} in {REPO_ROOT / 'dags'} ({errors})")
    # Airflow 3.3's DAG.test() cannot finish a run of a DAG with deadlines (DagRun.update_state looks the alerts
    # up by in-memory objects): the SLA deadlines are not part of what a parallel run compares.
    dag.deadline = None
    result = dag.test(run_conf=conf)
    tasks = {f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id: str(ti.state)
             for ti in result.get_task_instances()}
    return {"run_id": result.run_id, "state": str(result.state), "tasks": tasks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.cutover.dag_test", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dag-id", required=True)
    parser.add_argument("--conf", default="{}", help="the run's conf as a JSON object")
    parser.add_argument("--result", type=Path, required=True, help="file the outcome is written to (JSON)")
    args = parser.parse_args(argv)
    outcome = run(args.dag_id, json.loads(args.conf))
    args.result.write_text(json.dumps(outcome, sort_keys=True))
    return 0 if outcome["state"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
