"""The graph of datasets and jobs of one DAG run, from stored OpenLineage events (pure: no Airflow, no I/O but reading).

The provider's events tell their DAG run: a task event carries the ``airflow`` run facet (``dagRun.dag_id`` and
``run_id``) and the ``parent`` facet (the DAG run's job and OpenLineage run id); a DAG event carries
``airflowDagRun``. Every event of a task run (START, the TaskFlow tasks' extra RUNNING, COMPLETE or FAIL) adds
its datasets to the task's job, as a consumer such as Marquez merges them.

* :func:`read_events`: JSON lines, bad lines counted and skipped;
* :func:`build_graph`: the last DAG run (or a chosen one) as a :class:`LineageGraph`;
* :func:`chain_breaks`: whether stages of datasets form one connected chain (:data:`PIPELINE_CHAIN`);
* :func:`render_text`: the graph as text; :func:`file_transport_path`: where a file transport writes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

Event = dict[str, Any]
TERMINAL = ("COMPLETE", "FAIL", "ABORT")
# market data (a provider's API, or the synthetic data in synthetic mode) -> ohlcv -> forecasts -> signals -> trades
PIPELINE_CHAIN: tuple[tuple[str, ...], ...] = (("market_data/", "synthetic/"), ("db/ohlcv",), ("db/forecasts",),
                                               ("db/signals",), ("db/trades",))
_PER_TICKER = ("market_data/", "synthetic/")  # families shown collapsed: market_data/yfinance/{AAPL,MSFT}


@dataclass(frozen=True)
class JobLineage:
    """One job (task) of the run: what all its events say it read and wrote, and how its task runs ended."""

    job: str
    task: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    states: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"job": self.job, "task": self.task, "inputs": list(self.inputs), "outputs": list(self.outputs),
                "states": dict(self.states)}


@dataclass(frozen=True)
class LineageGraph:
    """Datasets and jobs of one DAG run."""

    dag_id: str
    run_id: str
    openlineage_run_id: str | None
    events: int
    jobs: tuple[JobLineage, ...]
    bad_lines: int = 0
    runs_seen: int = 1

    @property
    def datasets(self) -> tuple[str, ...]:
        """Every dataset read or written."""
        return tuple(sorted({d for j in self.jobs for d in (*j.inputs, *j.outputs)}))

    @property
    def sources(self) -> tuple[str, ...]:
        """Datasets read and written by no job of the run."""
        written = {d for j in self.jobs for d in j.outputs}
        return tuple(sorted({d for j in self.jobs for d in j.inputs} - written))

    @property
    def sinks(self) -> tuple[str, ...]:
        """Datasets written and read by no job of the run."""
        read = {d for j in self.jobs for d in j.inputs}
        return tuple(sorted({d for j in self.jobs for d in j.outputs} - read))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"dag_id": self.dag_id, "run_id": self.run_id, "openlineage_run_id": self.openlineage_run_id,
                "events": self.events, "bad_lines": self.bad_lines, "runs_seen": self.runs_seen,
                "jobs": [j.to_dict() for j in self.jobs], "sources": list(self.sources),
                "sinks": list(self.sinks)}


def read_events(path: Path) -> tuple[list[Event], int]:
    """The events of a JSON-lines file and the number of lines skipped (not JSON, or not a run event)."""
    events: list[Event] = []
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(event, dict) and isinstance(event.get("run"), dict) and isinstance(event.get("job"), dict):
                events.append(event)
            else:
                bad += 1
    return events, bad


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _facets(event: Event) -> dict[str, Any]:
    return _dict(_dict(event.get("run")).get("facets"))


def _dag_run(event: Event) -> tuple[str, str] | None:
    """``(dag_id, run_id)`` of the Airflow DAG run an event belongs to, when its facets name it."""
    facets = _facets(event)
    for key in ("airflow", "airflowDagRun"):
        dag_run = _dict(_dict(facets.get(key)).get("dagRun"))
        dag_id = dag_run.get("dag_id") or _dict(_dict(facets.get(key)).get("dag")).get("dag_id")
        if dag_id and dag_run.get("run_id"):
            return str(dag_id), str(dag_run["run_id"])
    return None


def _openlineage_dag_run(event: Event) -> tuple[str, str] | None:
    """``(dag job name, OpenLineage run id)`` of the DAG run: the parent of a task event, a DAG event itself."""
    facets = _facets(event)
    if "airflowDagRun" in facets:
        return str(_dict(event.get("job")).get("name", "")), str(_dict(event.get("run")).get("runId", ""))
    parent = _dict(facets.get("parent"))
    job, run = _dict(parent.get("job")), _dict(parent.get("run"))
    if job.get("name") and run.get("runId"):
        return str(job["name"]), str(run["runId"])
    return None


def _when(event: Event) -> datetime | None:
    try:
        return datetime.fromisoformat(str(event.get("eventTime", "")))
    except ValueError:
        return None


def _names(datasets: Any, qualify: bool) -> set[str]:
    out: set[str] = set()
    for d in _list(datasets):
        if isinstance(d, dict) and d.get("name"):
            out.add(f"{d.get('namespace')}:{d['name']}" if qualify else str(d["name"]))
    return out


@dataclass
class _Run:
    key: tuple[str, str]
    openlineage_run_id: str | None = None
    first: tuple[int, datetime | None] = (0, None)
    events: list[tuple[int, Event]] = field(default_factory=list)


def _group(events: Sequence[Event]) -> dict[tuple[str, str], _Run]:
    """Events per DAG run, keyed by ``(dag_id, run_id)`` (the OpenLineage DAG-run id when no facet names it)."""
    aliases: dict[str, tuple[str, str]] = {}  # OpenLineage DAG-run id -> (dag_id, run_id)
    for event in events:
        named, ol = _dag_run(event), _openlineage_dag_run(event)
        if named and ol:
            aliases.setdefault(ol[1], named)
    runs: dict[tuple[str, str], _Run] = {}
    for index, event in enumerate(events):
        ol = _openlineage_dag_run(event)
        key = _dag_run(event) or (aliases.get(ol[1]) if ol else None) or ol
        if key is None:
            continue  # not an Airflow task or DAG event
        run = runs.setdefault(key, _Run(key, first=(index, _when(event))))
        if ol and run.openlineage_run_id is None:
            run.openlineage_run_id = ol[1]
        run.events.append((index, event))
    return runs


def _order(run: _Run) -> tuple[float, int]:
    index, when = run.first
    return (when.timestamp() if when else float("-inf"), index)


def select_run(runs: dict[tuple[str, str], _Run], run_id: str | None = None,
               dag_id: str | None = None) -> _Run | None:
    """The run named by ``run_id`` (Airflow run id or OpenLineage DAG-run id), else the one that began last."""
    candidates = [r for r in runs.values() if dag_id is None or r.key[0] == dag_id]
    if run_id is not None:
        candidates = [r for r in candidates if run_id in (r.key[1], r.openlineage_run_id)]
    return max(candidates, key=_order, default=None)


def build_graph(events: Sequence[Event], run_id: str | None = None, dag_id: str | None = None,
                bad_lines: int = 0) -> LineageGraph | None:
    """The graph of the last DAG run of ``events`` (or of ``run_id`` / the last of ``dag_id``); None if none."""
    runs = _group(events)
    run = select_run(runs, run_id, dag_id)
    if run is None:
        return None
    namespaces = {str(d.get("namespace")) for _, e in run.events for slot in ("inputs", "outputs")
                  for d in _list(e.get(slot)) if isinstance(d, dict)}
    qualify = len(namespaces) > 1
    dag_name = run.key[0]
    inputs: dict[str, set[str]] = defaultdict(set)
    outputs: dict[str, set[str]] = defaultdict(set)
    final: dict[str, dict[str, tuple[tuple[float, int], str]]] = defaultdict(dict)  # job -> task run -> state
    for index, event in run.events:
        facets = _facets(event)
        job = str(_dict(event.get("job")).get("name", ""))
        if "airflowDagRun" in facets or not job or job == dag_name:
            continue  # the DAG run's own events carry no datasets of a task
        inputs[job] |= _names(event.get("inputs"), qualify)
        outputs[job] |= _names(event.get("outputs"), qualify)
        state = str(event.get("eventType", ""))
        if state in TERMINAL:
            when = _when(event)
            order = (when.timestamp() if when else float("-inf"), index)
            task_run = str(_dict(event.get("run")).get("runId", ""))
            previous = final[job].get(task_run)
            if previous is None or previous[0] < order:
                final[job][task_run] = (order, state)
        else:
            final.setdefault(job, {})  # a job that only started still shows
    jobs = []
    for job in sorted(set(inputs) | set(outputs) | set(final)):
        counts: dict[str, int] = defaultdict(int)
        for _, state in final[job].values():
            counts[state] += 1
        task = job[len(dag_name) + 1:] if job.startswith(dag_name + ".") else job
        jobs.append(JobLineage(job, task, tuple(sorted(inputs[job])), tuple(sorted(outputs[job])),
                               dict(sorted(counts.items()))))
    return LineageGraph(dag_id=run.key[0], run_id=run.key[1], openlineage_run_id=run.openlineage_run_id,
                        events=len(run.events), jobs=tuple(jobs), bad_lines=bad_lines, runs_seen=len(runs))


def _matches(name: str, stage: Iterable[str]) -> bool:
    return any(name == p or (p.endswith("/") and name.startswith(p)) for p in stage)


def _downstream(graph: LineageGraph, start: set[str]) -> set[str]:
    """Datasets reachable from ``start`` through jobs that read one and write another (``start`` included)."""
    seen, frontier = set(start), set(start)
    while frontier:
        found = {d for j in graph.jobs if frontier & set(j.inputs) for d in j.outputs} - seen
        seen |= found
        frontier = found
    return seen


def links(graph: LineageGraph, before: Sequence[str], after: Sequence[str]) -> tuple[str, list[str]]:
    """How stage ``after`` follows stage ``before``: ``("direct", jobs)`` (a job reads one, writes the other),
    ``("together", jobs)`` (one job writes both), ``("indirect", [])`` (through other datasets) or ``("none", [])``.
    """
    direct = [j.task for j in graph.jobs
              if any(_matches(d, before) for d in j.inputs) and any(_matches(d, after) for d in j.outputs)]
    if direct:
        return "direct", direct
    together = [j.task for j in graph.jobs
                if any(_matches(d, before) for d in j.outputs) and any(_matches(d, after) for d in j.outputs)]
    if together:
        return "together", together
    starts = {d for d in graph.datasets if _matches(d, before)}
    if any(_matches(d, after) for d in _downstream(graph, starts)):
        return "indirect", []
    return "none", []


def chain_breaks(graph: LineageGraph, stages: Sequence[Sequence[str]] = PIPELINE_CHAIN) -> list[str]:
    """What keeps ``stages`` (dataset names, or prefixes ending in ``/``) from being one connected chain.

    Each stage must have a dataset in the run, and follow the stage before it: read by a job that writes it,
    written together with it by one job (the trader writes signals and trades), or downstream of it.
    Empty when the chain holds.
    """
    breaks = [f"no dataset {' or '.join(s)} in the run" for s in stages
              if not any(_matches(d, s) for d in graph.datasets)]
    if breaks:
        return breaks
    for before, after in pairwise(stages):
        if links(graph, before, after)[0] == "none":
            breaks.append(f"{' or '.join(after)} does not follow from {' or '.join(before)}")
    return breaks


def collapse(names: Iterable[str]) -> list[str]:
    """Names for display, the per-ticker families collapsed: ``market_data/yfinance/{AAPL,MSFT}``."""
    groups: dict[str, list[str]] = defaultdict(list)
    out: list[str] = []
    for name in sorted(set(names)):
        bare = name.split(":", 1)[-1]
        if bare.startswith(_PER_TICKER) and "/" in bare:
            head, _, leaf = name.rpartition("/")
            groups[head].append(leaf)
        else:
            out.append(name)
    for head, leaves in groups.items():
        out.append(f"{head}/{leaves[0]}" if len(leaves) == 1 else f"{head}/{{{','.join(leaves)}}}")
    return sorted(out)


def chain_text(graph: LineageGraph, stages: Sequence[Sequence[str]] = PIPELINE_CHAIN) -> str:
    """The chain as one line: ``market_data/... -> etl.batch -> db/ohlcv -> ...`` (``-X->`` where it breaks)."""
    def label(stage: Sequence[str]) -> str:
        found = collapse(d for d in graph.datasets if _matches(d, stage))
        return " + ".join(found) if found else f"({' or '.join(stage)}: none)"

    parts = [label(stages[0])]
    for before, after in pairwise(stages):
        how, jobs = links(graph, before, after)
        arrow = {"direct": f" -> {', '.join(jobs)} -> ", "together": " & ", "indirect": " -> ... -> ",
                 "none": " -X-> "}[how]
        parts.append(arrow + label(after) + (f" (with it, by {', '.join(jobs)})" if how == "together" else ""))
    return "".join(parts)


def _states(states: dict[str, int]) -> str:
    return ", ".join(f"{n} {s}" if n > 1 else s for s, n in states.items()) or "running"


def render_text(graph: LineageGraph, stages: Sequence[Sequence[str]] = PIPELINE_CHAIN) -> str:
    """The graph as text: each job's inputs -> outputs, the chain, the sources and the sinks."""
    ol = f" (OpenLineage run {graph.openlineage_run_id})" if graph.openlineage_run_id else ""
    lines = [f"DAG run {graph.dag_id} {graph.run_id}{ol}: {graph.events} events, {len(graph.jobs)} jobs, "
             f"{len(graph.datasets)} datasets"]
    if graph.bad_lines:
        lines.append(f"skipped {graph.bad_lines} unreadable line(s)")
    lines.append("")
    lines.append("jobs (inputs -> outputs):")
    quiet = []
    for job in graph.jobs:
        if not job.inputs and not job.outputs:
            quiet.append(job.task)
            continue
        lines.append(f"  {job.task} [{_states(job.states)}]")
        lines.append(f"      {', '.join(collapse(job.inputs)) or '-'}")
        lines.append(f"   -> {', '.join(collapse(job.outputs)) or '-'}")
    if quiet:
        lines.append(f"  without datasets: {', '.join(quiet)}")
    lines.append("")
    lines.append(f"chain: {chain_text(graph, stages)}")
    lines.append(f"sources (no job wrote them): {', '.join(collapse(graph.sources)) or '-'}")
    lines.append(f"sinks (no job read them): {', '.join(collapse(graph.sinks)) or '-'}")
    return "\n".join(lines) + "\n"


def file_transport_path(transport: Any) -> str | None:
    """``log_file_path`` of the file transport in an ``[openlineage] transport`` setting (nested transports too)."""
    if isinstance(transport, str):
        try:
            transport = json.loads(transport)
        except ValueError:
            return None
    if not isinstance(transport, dict):
        return None
    if transport.get("type") == "file" and transport.get("log_file_path"):
        return str(transport["log_file_path"])
    nested = transport.get("transports")
    children = list(nested.values()) if isinstance(nested, dict) else list(nested or [])
    for child in [transport.get("transport"), *children]:
        found = file_transport_path(child)
        if found:
            return found
    return None
