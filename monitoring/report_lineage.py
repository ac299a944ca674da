"""Lineage section of the performance report: the graph of datasets and jobs of the last (or the followed) run.

Reads the OpenLineage events the provider's file transport wrote (its ``log_file_path`` in
``AIRFLOW__OPENLINEAGE__TRANSPORT``, or a given file) through ``lineage.summary``, which needs neither Airflow nor
the runtime packages. Never fails the report: a missing or unreadable file is a note.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lineage.summary import build_graph, chain_breaks, file_transport_path, read_events


def events_path() -> Path | None:
    """Where the configured file transport writes, if one is configured in this process's environment."""
    configured = file_transport_path(os.environ.get("AIRFLOW__OPENLINEAGE__TRANSPORT", ""))
    return Path(configured) if configured else None


def lineage_section(path: Path | None = None, run: dict[str, Any] | None = None) -> dict[str, Any]:
    """The graph of ``run`` (``dag_id``, ``run_id``) or of the last DAG run, or a ``note`` saying why none."""
    path = path or events_path()
    if path is None:
        return {"note": "no OpenLineage file transport configured"}
    if not path.is_file():
        return {"path": str(path), "note": "no lineage events yet"}
    try:
        events, bad = read_events(path)
    except OSError as exc:
        return {"path": str(path), "note": f"unreadable: {type(exc).__name__}: {str(exc)[:200]}"}
    graph = build_graph(events, run_id=run.get("run_id") if run else None,
                        dag_id=run.get("dag_id") if run else None, bad_lines=bad)
    if graph is None:
        return {"path": str(path), "note": f"no DAG run in {len(events)} events"}
    return {"path": str(path), **graph.to_dict(), "chain_breaks": chain_breaks(graph)}
