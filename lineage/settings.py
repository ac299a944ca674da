"""Typed model of ``config/lineage.yml``: the one lineage setting, the dataset namespace.

The file is optional (the add-on runs on foreign deployments without it): a missing file means the defaults.
A broken file is reported once and the default namespace is used, so lineage never fails a task.
"""

from __future__ import annotations

import logging

from pydantic import Field

from foundation.config_loader import CachedConfig, ConfigError, Strict

log = logging.getLogger(__name__)
DEFAULT_NAMESPACE = "portfolio_maximizer"
NAMESPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$"


class LineageConfig(Strict):
    """``config/lineage.yml``."""

    namespace: str = Field(default=DEFAULT_NAMESPACE, pattern=NAMESPACE_PATTERN)


_cache = CachedConfig(LineageConfig, "lineage")
_reported: set[str] = set()


def load_lineage(*, fresh: bool = False) -> LineageConfig:
    """``config/lineage.yml`` plus its ``PMX_ENV`` overlay; defaults when the file is missing."""
    try:
        return _cache.load(fresh=fresh)
    except ConfigError as exc:
        if exc.key == "" and exc.problem == "file not found":
            return LineageConfig()
        raise


def dataset_namespace() -> str:
    """The configured dataset namespace; the default (and one warning) when the config is broken."""
    try:
        return load_lineage().namespace
    except ConfigError as exc:
        if str(exc) not in _reported:
            _reported.add(str(exc))
            log.warning("lineage config ignored, namespace %s used: %s", DEFAULT_NAMESPACE, exc)
        return DEFAULT_NAMESPACE
