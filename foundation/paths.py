"""Where the project keeps its config, data and logs (overridable through the environment)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def project_home() -> Path:
    """Root for runtime state (``data/``, ``logs/``, ``reports/``): ``PMX_HOME`` or the checkout."""
    return Path(os.environ.get("PMX_HOME") or REPO_ROOT).resolve()


def config_dir() -> Path:
    """Directory of the YAML configuration: ``PMX_CONFIG_DIR`` or ``config/`` in the checkout."""
    return Path(os.environ.get("PMX_CONFIG_DIR") or REPO_ROOT / "config").resolve()


def resolve(path: str | os.PathLike[str]) -> Path:
    """Resolve a configured path: absolute paths stay, relative ones hang off :func:`project_home`."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_home() / p


def data_dir() -> Path:
    """The ``data/`` directory."""
    return project_home() / "data"


def logs_dir() -> Path:
    """The ``logs/`` directory (``PMX_LOG_DIR`` overrides)."""
    return Path(os.environ.get("PMX_LOG_DIR") or project_home() / "logs")


def reports_dir() -> Path:
    """The ``reports/`` directory for generated HTML/PNG/JSON reports."""
    return project_home() / "reports"
