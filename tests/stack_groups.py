"""How ``make test`` spreads the integration tests over xdist workers (``-n N --dist loadgroup``).

Every test of the session's Airflow stack (``airflow_stack`` and the fixtures built on it) runs on one worker, so
that the stack starts once; each module that brings a stack of its own (a ``make up`` process, a foreign install,
the two-worker scale path) or needs none is a group of its own and runs beside them on another worker. Tests
outside ``tests/integration/`` are grouped by file, as ``--dist loadfile`` does.

xdist's own ``xdist_group`` mark cannot do this here: its worker renames node ids through an attribute pytest 9 no
longer reads, so the marks are ignored. The group is read from the node id instead, in the controller, and
``tests/integration/conftest.py`` fails the collection when a module listed here uses the session stack.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from xdist.scheduler import LoadScopeScheduling

INTEGRATION_DIR = "tests/integration/"
SESSION_STACK = "session-stack"
# integration modules that never touch the session stack (each starts what it tests, or nothing)
OWN_STACK_MODULES = frozenset({
    "test_clean_stop", "test_foreign_dag", "test_listener_broken_trading_config", "test_parallel_run",
    "test_scale_path",
})


def stack_group(nodeid: str) -> str:
    """The work unit of a test: the session stack, else its file."""
    path = nodeid.split("::", 1)[0]
    if path.startswith(INTEGRATION_DIR) and PurePosixPath(path).stem not in OWN_STACK_MODULES:
        return SESSION_STACK
    return path


class StackGroupScheduling(LoadScopeScheduling):
    """``LoadScopeScheduling`` (largest unit first) over :func:`stack_group`."""

    def _split_scope(self, nodeid: str) -> str:
        return stack_group(nodeid)
