"""The checked-in manifest of every DAG's task ids, and the rule for breaking changes (docs/dag_versioning.md).

``local_stack/dag_manifest.json`` lists, per ``dag_id``, the task ids it has ever had. A DAG may gain tasks; it
may not lose or rename one under the same ``dag_id``: the project's DAGs live in a ``LocalDagBundle``, which does
not version code, so the scheduler resolves every run of a DAG, running ones included, to its latest version and
marks the task instances of a vanished task ``removed``. A breaking change therefore gets a new ``dag_id``
(``daily_etl`` -> ``daily_etl_v2``); the old one stays in the manifest with ``"retired": true`` once its file is
gone.

``python -m local_stack.dag_manifest`` checks the DAG folder against the manifest (exit 1 on a breaking
change); ``--write`` adds new DAGs and new tasks to it (never removes anything), ``--retire DAG_ID`` marks a DAG
whose file was deleted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).resolve().parent / "dag_manifest.json"
Manifest = dict[str, dict[str, Any]]  # dag_id -> {"tasks": [task ids], "retired": bool}


def read_manifest(path: Path = MANIFEST) -> Manifest:
    """The manifest (empty when the file does not exist)."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not all(isinstance(v, dict) and isinstance(v.get("tasks"), list)
                                             for v in data.values()):
        raise ValueError(f"{path}: expected {{dag_id: {{\"tasks\": [...], \"retired\": bool}}}}")
    return data


def write_manifest(manifest: Manifest, path: Path = MANIFEST) -> None:
    """Write the manifest, sorted, one DAG per key."""
    ordered = {dag_id: {"tasks": sorted(set(entry["tasks"])), "retired": bool(entry.get("retired"))}
               for dag_id, entry in sorted(manifest.items())}
    path.write_text(json.dumps(ordered, indent=2) + "\n")


def breaking_changes(manifest: Mapping[str, Mapping[str, Any]], current: Mapping[str, set[str]]) -> list[str]:
    """What the DAG folder (``dag_id -> task ids``) breaks of the manifest: one sentence per problem."""
    problems = []
    for dag_id, entry in sorted(manifest.items()):
        if entry.get("retired"):
            if dag_id in current:
                problems.append(f"{dag_id}: retired in the manifest but back in the DAG folder; a retired dag_id "
                                "is never reused (give the DAG a new one)")
            continue
        if dag_id not in current:
            problems.append(f"{dag_id}: no longer in the DAG folder; mark it retired "
                            f"(python -m local_stack.dag_manifest --retire {dag_id})")
            continue
        gone = sorted(set(entry["tasks"]) - current[dag_id])
        if gone:
            problems.append(f"{dag_id}: task(s) {', '.join(gone)} removed or renamed; that is a breaking change: "
                            f"keep them, or move the new structure to a new dag_id (e.g. {next_version(dag_id)})")
    return problems


def unrecorded(manifest: Mapping[str, Mapping[str, Any]], current: Mapping[str, set[str]]) -> list[str]:
    """DAGs or tasks of the DAG folder that the manifest does not list yet (``--write`` adds them)."""
    out = [f"{dag_id}: new DAG" for dag_id in sorted(set(current) - set(manifest))]
    out += [f"{dag_id}: new task(s) {', '.join(sorted(tasks - set(manifest[dag_id]['tasks'])))}"
            for dag_id, tasks in sorted(current.items())
            if dag_id in manifest and tasks - set(manifest[dag_id]["tasks"])]
    return out


def merged(manifest: Mapping[str, Mapping[str, Any]], current: Mapping[str, set[str]]) -> Manifest:
    """The manifest with the DAG folder's new DAGs and tasks added (nothing is ever dropped)."""
    out: Manifest = {k: {"tasks": list(v["tasks"]), "retired": bool(v.get("retired"))} for k, v in manifest.items()}
    for dag_id, tasks in current.items():
        entry = out.setdefault(dag_id, {"tasks": [], "retired": False})
        entry["tasks"] = sorted(set(entry["tasks"]) | tasks)
    return out


def next_version(dag_id: str) -> str:
    """The dag_id of the next breaking version: ``daily_etl`` -> ``daily_etl_v2`` -> ``daily_etl_v3``."""
    stem, _, number = dag_id.rpartition("_v")
    return f"{stem}_v{int(number) + 1}" if stem and number.isdigit() else f"{dag_id}_v2"


def folder_tasks(dags: Mapping[str, Any]) -> dict[str, set[str]]:
    """``dag_id -> task ids`` of parsed DAGs."""
    return {dag_id: set(dag.task_ids) for dag_id, dag in dags.items()}


def main(argv: list[str] | None = None) -> int:
    """Check the DAG folder against the manifest, or update the manifest."""
    parser = argparse.ArgumentParser(prog="python -m local_stack.dag_manifest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="add new DAGs and tasks to the manifest")
    parser.add_argument("--retire", metavar="DAG_ID", help="mark a DAG whose file was deleted as retired")
    args = parser.parse_args(argv)
    manifest = read_manifest()
    if args.retire:
        if args.retire not in manifest:
            print(f"error: {args.retire} is not in {MANIFEST}", file=sys.stderr)
            return 2
        manifest[args.retire]["retired"] = True
        write_manifest(manifest)
        print(f"{args.retire}: retired")
        return 0
    from local_stack.dag_folder import load_dags

    current = folder_tasks(load_dags())
    problems = breaking_changes(manifest, current)
    for problem in problems:
        print(f"breaking: {problem}", file=sys.stderr)
    if problems:
        return 1
    pending = unrecorded(manifest, current)
    if args.write and pending:
        write_manifest(merged(manifest, current))
    for line in pending:
        print(f"{'recorded' if args.write else 'not recorded yet (--write)'}: {line}")
    if not pending:
        print(f"{len(current)} DAGs match {MANIFEST.name}")
    return 0 if args.write or not pending else 1


if __name__ == "__main__":
    sys.exit(main())
