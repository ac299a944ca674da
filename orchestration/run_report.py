"""The state a DAG run will end in, judged from its other tasks while its final report task still runs.

Airflow decides a run's state from its effective leaves: teardown tasks do not count, and a run with a failed
or upstream-failed leaf fails once nothing is unfinished. The report task of ``portfolio_master`` is such a
teardown, so while it runs the run is still ``running``: :func:`run_state` applies the same rule to every
other task so that the report says what the run becomes, and agrees with the ``make run`` summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

FAILED = frozenset({"failed", "upstream_failed"})
FINISHED = frozenset({"success", "skipped", "failed", "upstream_failed", "removed"})


def effective_leaves(tasks: Iterable[Any], exclude: str) -> set[str]:
    """Task ids with nothing downstream but ``exclude`` (the report task itself)."""
    return {t.task_id for t in tasks if t.task_id != exclude and not set(t.downstream_task_ids) - {exclude}}


def _task_id(key: str, known: set[str]) -> str:
    """``trading.trade_1`` (a mapped instance, as Airflow's task-states API names it) -> ``trading.trade``."""
    if key in known:
        return key
    base, _, index = key.rpartition("_")
    return base if index.isdigit() and base in known else key


def run_state(states: Mapping[str, str | None], leaves: set[str], exclude: str) -> str:
    """``running`` while another task is unfinished, else ``failed`` if a leaf failed, else ``success``."""
    own = {k: v for k, v in states.items() if _task_id(k, leaves | {exclude}) != exclude}
    if any(str(v or "").lower() not in FINISHED for v in own.values()):
        return "running"
    leaf_states = [str(v or "").lower() for k, v in own.items() if _task_id(k, leaves) in leaves]
    return "failed" if FAILED.intersection(leaf_states) else "success"
