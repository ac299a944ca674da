"""Print the graph of datasets and jobs of the last DAG run from the stored OpenLineage events.

``python -m local_stack.lineage_summary [--events PATH] [--run-id RUN] [--dag DAG_ID] [--json]``: the events
file defaults to where the stack's file transport writes (``[openlineage] transport`` of ``config/airflow.yml``
rendered for the local stack: ``<home>/openlineage/events.jsonl``). Unreadable lines are counted and skipped.
Exit 0 when printed, 1 when the file or the run is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lineage.summary import build_graph, chain_breaks, file_transport_path, read_events, render_text
from local_stack.airflow_env import settings_environment
from local_stack.local import local_layout


def default_events_path() -> Path:
    """The local stack's file transport target."""
    layout = local_layout()
    configured = file_transport_path(settings_environment(layout).get("AIRFLOW__OPENLINEAGE__TRANSPORT", ""))
    return Path(configured) if configured else layout.home / "openlineage" / "events.jsonl"


def main(argv: list[str] | None = None) -> int:
    """CLI entry."""
    parser = argparse.ArgumentParser(prog="python -m local_stack.lineage_summary",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=Path, help="OpenLineage events, JSON lines (default: the stack's file)")
    parser.add_argument("--run-id", help="Airflow run id or OpenLineage DAG-run id (default: the last run)")
    parser.add_argument("--dag", help="only runs of this DAG")
    parser.add_argument("--json", action="store_true", help="print the graph as JSON")
    args = parser.parse_args(argv)
    path = args.events or default_events_path()
    if not path.is_file():
        print(f"lineage_summary: no events file {path}", file=sys.stderr)
        return 1
    events, bad = read_events(path)
    graph = build_graph(events, run_id=args.run_id, dag_id=args.dag, bad_lines=bad)
    if graph is None:
        wanted = " ".join(x for x in (args.dag, args.run_id) if x) or "any"
        print(f"lineage_summary: no DAG run ({wanted}) in {path} ({len(events)} events, {bad} bad lines)",
              file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**graph.to_dict(), "chain_breaks": chain_breaks(graph)}, indent=1))
    else:
        print(f"{path}")
        print(render_text(graph), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
