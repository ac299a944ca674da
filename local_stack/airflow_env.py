"""Render ``config/airflow.yml`` into the ``AIRFLOW__*`` environment of one stack (the only source of settings)."""

from __future__ import annotations

import base64
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation import paths
from foundation.config_loader import ConfigError, read_yaml

SECRET_NAMES = ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY")
# many small model fits in parallel tasks: threaded BLAS only oversubscribes (each defaults to 1 in a stack)
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class StackLayout:
    """Where one Airflow stack lives and which 127.0.0.1 ports it uses."""

    home: Path
    api_port: int = 8080
    statsd_host: str = "127.0.0.1"
    statsd_port: int = 9125
    log_port: int = 8793
    trigger_log_port: int = 8794
    scheduler_health_port: int = 8974
    pmx_home: Path = field(default_factory=paths.project_home)
    extra: dict[str, str] = field(default_factory=dict)
    repo: Path = paths.REPO_ROOT

    @property
    def api_url(self) -> str:
        """Base URL of the api-server."""
        return f"http://127.0.0.1:{self.api_port}"


def _placeholders(layout: StackLayout) -> dict[str, str]:
    return {"home": str(layout.home), "repo": str(layout.repo), "api_port": str(layout.api_port),
            "statsd_host": layout.statsd_host, "statsd_port": str(layout.statsd_port),
            "log_port": str(layout.log_port), "trigger_log_port": str(layout.trigger_log_port),
            "scheduler_health_port": str(layout.scheduler_health_port)}


def _render(value: Any, values: dict[str, str], file: Path, key: str) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    text = str(value)
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(file, key, value, f"unknown placeholder {exc}; known: {', '.join(sorted(values))}") from None


def settings_environment(layout: StackLayout, config_file: Path | None = None) -> dict[str, str]:
    """``AIRFLOW__SECTION__KEY`` variables rendered from ``config/airflow.yml`` for ``layout``."""
    file = config_file or paths.config_dir() / "airflow.yml"
    values = _placeholders(layout)
    env: dict[str, str] = {}
    for section, options in read_yaml(file).items():
        if not isinstance(options, dict):
            raise ConfigError(file, section, options, "each section must be a mapping of option: value")
        for option, value in options.items():
            env[f"AIRFLOW__{section.upper()}__{option.upper()}"] = _render(value, values, file, f"{section}.{option}")
    env.update(layout.extra)
    return env


def stack_secrets(home: Path) -> dict[str, str]:
    """Fernet key, JWT secret and API secret of this home, generated once into ``secrets.env`` (mode 600)."""
    file = home / "secrets.env"
    if file.exists():
        pairs = (line.split("=", 1) for line in file.read_text().splitlines() if "=" in line)
        found = {k: v for k, v in pairs}
        if all(name in found for name in SECRET_NAMES):
            return found
    home.mkdir(parents=True, exist_ok=True)
    generated = {
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(48),
    }
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.writelines(f"{k}={v}\n" for k, v in generated.items())
    return generated


def stack_environment(layout: StackLayout, base: dict[str, str] | None = None) -> dict[str, str]:
    """The complete process environment for the components of one stack."""
    env = {k: v for k, v in (base if base is not None else os.environ).items() if not k.startswith("AIRFLOW__")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # every task process imports the project: let it cache bytecode
    for name in BLAS_THREAD_VARIABLES:
        env.setdefault(name, "1")
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")  # components start each other as `airflow ...`
    env["AIRFLOW_HOME"] = str(layout.home)
    env["PMX_HOME"] = str(layout.pmx_home)
    env.setdefault("PMX_STATSD_HOST", layout.statsd_host)
    env["PMX_STATSD_PORT"] = str(layout.statsd_port)
    env.update(settings_environment(layout))
    env.update(stack_secrets(layout.home))
    (layout.home / "openlineage").mkdir(parents=True, exist_ok=True)  # the file transport's directory
    return env


def write_env_file(layout: StackLayout, target: Path | None = None) -> Path:
    """Write the rendered settings (no secrets) to ``<home>/airflow.env`` for inspection and sourcing."""
    target = target or layout.home / "airflow.env"
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"AIRFLOW_HOME={layout.home}", f"PMX_HOME={layout.pmx_home}"]
    lines += [f"{k}={v}" for k, v in sorted(settings_environment(layout).items())]
    target.write_text("# generated from config/airflow.yml; secrets live in secrets.env\n" + "\n".join(lines) + "\n")
    return target
