"""Generate the derived sections of ``docs/dag_reference.md`` from the DAGs.

Each generated section sits between ``<!-- BEGIN GENERATED <name> -->`` and ``<!-- END GENERATED <name> -->``;
the rest of the file is written by hand and kept verbatim. Sections: ``dags`` (per DAG: schedule, owner, tags,
description, SLAs with their runbook, every task with its operator, pool, queue, retries and datasets) and
``pools`` (the pools of ``config/orchestration.yml`` and the tasks that use them). The facts come from
:mod:`local_stack.dag_facts`; the output depends on nothing but the repository.
``python -m local_stack.dag_reference [--check]``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from alerts.sla_config import SlaSpec
from alerts.times import format_duration
from foundation import paths
from local_stack.dag_facts import DagFacts, RetryPolicy, TaskFacts, collect
from local_stack.dag_folder import DagLoadError, load_dags
from orchestration.config import load_orchestration

TARGET = paths.REPO_ROOT / "docs" / "dag_reference.md"
COMMAND = "python -m local_stack.dag_reference"
RUNBOOK_DOC = "slas.md"  # docs/slas.md holds the anchors of config/slas.yml's `runbook` entries


DAGS_INTRO = """\
Tasks are listed in flow order (by depth from the DAG's start, then by id). Datasets are the names of
docs/lineage.md (`{market_data}`: the provider API each ticker came from, `{synthetic}`: each ticker's synthetic
data); any task whose last try fails also writes `db/dead_letters`. A retry delay with backoff also adds a
deterministic jitter (see [Pools, mapping and retries](#pools-mapping-and-retries))."""


class SectionError(ValueError):
    """The document's generated sections cannot be located."""


def _code(items: Iterable[str]) -> str:
    return ", ".join(f"`{item}`" for item in items)


def _duration(value: object) -> str:
    return format_duration(value.total_seconds()) if hasattr(value, "total_seconds") else str(value)


def retry_delay(retry: RetryPolicy) -> str:
    """``30s``, or ``1m, x2 per try up to 15m`` for exponential backoff; empty without retries."""
    if not retry.retries:
        return ""
    if retry.backoff and retry.max_delay is not None:
        return f"{_duration(retry.delay)}, x{retry.backoff:g} per try up to {_duration(retry.max_delay)}"
    return _duration(retry.delay)


def deadline(spec: SlaSpec, dag_zone: str | None) -> str:
    """When a run of the SLA's DAG must be done, in words."""
    manual = f"runs without a schedule slot: queued + {_duration(spec.manual_budget)}"
    if spec.reference == "time_of_day":
        zone = spec.timezone or dag_zone or "UTC"
        return f"done by {spec.at} ({zone}), {_duration(spec.budget)} after the scheduled time; {manual}"
    if spec.reference == "scheduled":
        return f"scheduled time + {_duration(spec.budget)}; {manual}"
    if spec.reference == "queued":
        return f"queued + {_duration(spec.budget)}, every run"
    return (f"created + the mean duration of the last {spec.max_runs} successful runs + {_duration(spec.budget)} "
            f"(from {spec.min_runs} successful runs on)")


def runbook_link(spec: SlaSpec) -> str:
    """The SLA's runbook as a link: an anchor of docs/slas.md, or an absolute URL."""
    if spec.runbook.startswith("#"):
        return f"[runbook]({RUNBOOK_DOC}{spec.runbook})"
    if "://" in spec.runbook:
        return f"[runbook]({spec.runbook})"
    return f"runbook `{spec.runbook}` (under `runbook_base_url` of config/slas.yml)"


def _schedule(dag: DagFacts) -> str:
    text = "none (manual runs only)" if dag.cron is None else f"`{dag.cron}` ({dag.timezone})"
    if dag.triggering_assets:
        text += f", or when the Asset {' or '.join(f'`{a}`' for a in dag.triggering_assets)} is updated"
    return text


def _task_row(task: TaskFacts) -> str:
    name = f"`{task.task_id}`" + (" (mapped)" if task.mapped else "")
    writes = [f"`{w}`" for w in task.writes] + [f"Asset `{a}`" for a in task.assets]
    cells = [name, f"`{task.operator}`", f"`{task.pool}`", f"`{task.queue}`", str(task.retry.retries),
             retry_delay(task.retry), _code(task.reads), ", ".join(writes)]
    return "| " + " | ".join(cells) + " |"


def render_dag(dag: DagFacts) -> str:
    """One DAG's subsection."""
    runs = "one active run at a time" if dag.max_active_runs == 1 else f"{dag.max_active_runs} active runs"
    lines = [f"### `{dag.dag_id}`", "", dag.description or "(no description)", "",
             f"- **Schedule:** {_schedule(dag)}",
             f"- **Owner:** `{dag.owner}`; **tags:** {_code(dag.tags)}; {runs}, "
             f"{'catchup' if dag.catchup else 'no catchup'}"]
    for spec in dag.slas:
        about = f"{spec.description.rstrip('.')}. " if spec.description else ""
        lines.append(f"- **SLA `{spec.name}`** ({spec.severity}): {deadline(spec, dag.timezone)}. {about}"
                     f"{runbook_link(spec)}")
    alerts = _code(dag.deadline_alerts) if dag.deadline_alerts else "none"
    lines += [f"- **Deadline Alerts on the DAG:** {alerts}", "",
              "| task | operator | pool | queue | retries | retry delay | reads | writes |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |",
              *(_task_row(task) for task in dag.tasks)]
    return "\n".join(lines)


def render_dags(dags: list[DagFacts]) -> str:
    """The ``dags`` section."""
    return "\n\n".join([DAGS_INTRO, *(render_dag(d) for d in dags)])


def render_pools(dags: list[DagFacts]) -> str:
    """The ``pools`` section: every configured pool, its queue and the tasks that take its slots."""
    used: dict[str, set[str]] = {}
    for dag in dags:
        for task in dag.tasks:
            used.setdefault(task.pool, set()).add(task.task_id)
    lines = ["| pool | slots | queue | what it bounds | tasks |", "| --- | --- | --- | --- | --- |"]
    for name, pool in sorted(load_orchestration().pools.items()):
        tasks = _code(sorted(used.get(name, ()))) or "(none)"
        lines.append(f"| `{name}` | {pool.slots} | `{pool.queue}` | {pool.description} | {tasks} |")
    return "\n".join(lines)


SECTIONS: dict[str, Callable[[list[DagFacts]], str]] = {"dags": render_dags, "pools": render_pools}


def _section(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- BEGIN GENERATED {name} [^\n]*-->\n)(.*?)(<!-- END GENERATED {name} -->)", re.DOTALL)


def update(document: str, dags: list[DagFacts]) -> str:
    """``document`` with each generated section rewritten from ``dags``; everything else unchanged."""
    for name, render in SECTIONS.items():
        found = list(_section(name).finditer(document))
        if len(found) != 1:
            raise SectionError(
                f"expected one generated section {name!r} in the document, found {len(found)}: mark it with "
                f"'<!-- BEGIN GENERATED {name} ({COMMAND}) -->' and '<!-- END GENERATED {name} -->' lines")
        begin, end = found[0].end(1), found[0].start(3)
        document = f"{document[:begin]}\n{render(dags)}\n\n{document[end:]}"
    return document


def main(argv: list[str] | None = None, target: Path = TARGET) -> int:
    """Rewrite the generated sections, or with ``--check`` exit 1 when they are stale."""
    parser = argparse.ArgumentParser(prog="dag_reference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {target.name} is stale")
    args = parser.parse_args(argv)
    try:
        current = target.read_text(encoding="utf-8")
        text = update(current, collect(load_dags()))
    except (OSError, SectionError, DagLoadError) as exc:
        print(f"{target}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if current != text:
            print(f"{target} is stale: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
