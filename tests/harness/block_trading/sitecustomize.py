"""Make the trading pipeline impossible to import in this process (and every process it starts).

Put this directory first on ``PYTHONPATH``: Python imports ``sitecustomize`` at start-up, which installs a
meta-path finder that raises ImportError for every package named in ``PMX_BLOCKED_PACKAGES`` (default: the
trading pipeline's ``portfolio``, ``scripts``, ``orchestration`` and ``local_stack``) and their submodules.
Used by tests/integration/test_foreign_dag.py and tests/unit/addon/test_import_boundaries.py to prove the
add-on runs on DAGs that are not ours.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

DEFAULT_BLOCKED = "portfolio,scripts,orchestration,local_stack"


class TradingBlocker(MetaPathFinder):
    """Refuses to find the blocked top-level packages."""

    def __init__(self, blocked: frozenset[str]) -> None:
        self.blocked = blocked

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None,
                  ) -> ModuleSpec | None:
        if fullname.partition(".")[0] in self.blocked:
            raise ImportError(f"{fullname} is blocked in this process (tests/harness/block_trading)",
                              name=fullname)
        return None


def install() -> None:
    """Put the blocker first on ``sys.meta_path`` (idempotent)."""
    names = os.environ.get("PMX_BLOCKED_PACKAGES", DEFAULT_BLOCKED)
    blocked = frozenset(n.strip() for n in names.split(",") if n.strip())
    if not any(isinstance(f, TradingBlocker) for f in sys.meta_path):
        sys.meta_path.insert(0, TradingBlocker(blocked))


install()
