"""The :class:`~portfolio.run_inputs.RunInputs` of the run in progress, for the domain's deep lookups.

An entrypoint that receives its inputs binds them with :func:`bound` for the duration of the run; the lookups
that are not run parameters (the database path, the synthetic dataset id, parallel forecasts, data-source
secrets) consult :func:`current` before the process environment and the config. The binding is process-wide
(worker threads of a run see it) and is undone when the run ends, so nothing leaks into the next task.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

_lock = threading.Lock()
_current: RunInputs | None = None


def current() -> RunInputs | None:
    """The inputs bound by the running entrypoint, or ``None`` outside of one."""
    return _current


@contextmanager
def bound(inputs: RunInputs | None) -> Iterator[RunInputs | None]:
    """Bind ``inputs`` (``None``: leave the binding as it is) until the block ends."""
    global _current
    if inputs is None:
        yield _current
        return
    with _lock:
        previous, _current = _current, inputs
    try:
        yield inputs
    finally:
        with _lock:
            _current = previous
