"""Pre-market environment sanity check: Python, venv, config files, database, secrets, calendar, log dir.

Prints one ok/reason line of JSON per check and exits 1 when any check fails (the env_sanity DAG branches on
the returned ``ok``). Secrets are reported as present or absent, never their values.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scripts.entrypoint import cli_main, make_parser

if TYPE_CHECKING:
    from portfolio.run_inputs import RunInputs

NAME = "validate_environment"
REQUIRED_PYTHON = (3, 11)
# config/<name>.yml -> "module:Model" validated with its environment overlays; other files are parsed only
TYPED_CONFIGS: dict[str, str] = {
    "pipeline": "portfolio.settings:PipelineSettings",
    "orchestration": "orchestration.config:OrchestrationConfig",
}


class EnvironmentNotReady(RuntimeError):
    """At least one check failed; the message lists the failing checks."""


def check_python() -> tuple[bool, str]:
    """Python 3.11 is running."""
    found = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info[:2] == REQUIRED_PYTHON
    return ok, f"python {found}" + ("" if ok else f"; {'.'.join(map(str, REQUIRED_PYTHON))} required")


def check_venv() -> tuple[bool, str]:
    """The interpreter runs inside a virtual environment."""
    ok = sys.prefix != sys.base_prefix
    return ok, f"venv {sys.prefix}" if ok else f"not in a virtual environment (sys.prefix {sys.prefix})"


def check_config() -> tuple[bool, str]:
    """Every YAML file under the config dir parses; typed ones validate under every environment overlay."""
    from foundation import paths
    from foundation.config_loader import ENVIRONMENTS, load_config, read_yaml

    directory = paths.config_dir()
    files = sorted(directory.glob("*.yml")) + sorted((directory / "environments").glob("*.yml"))
    if not files:
        return False, f"no config files in {directory}"
    typed = 0
    for path in files:
        read_yaml(path)
        target = TYPED_CONFIGS.get(path.stem) if path.parent == directory else None
        if target is None:
            continue
        module_name, model_name = target.split(":")
        try:
            model = getattr(importlib.import_module(module_name), model_name)
        except (ImportError, AttributeError):
            continue  # the package that owns this file is not installed here: parsed only
        for env in ENVIRONMENTS:
            load_config(model, path.stem, config_dir=directory, env=env)
        typed += 1
    return True, f"{len(files)} file(s) parsed, {typed} validated against their models in {directory}"


def cli_run_inputs() -> RunInputs:
    """The run inputs of a command line without run arguments: the ``CRON_*`` environment, then config."""
    from portfolio.run_inputs import resolve_run_inputs

    return resolve_run_inputs(environ=os.environ)


def check_run_params(load: Callable[[], RunInputs] = cli_run_inputs) -> tuple[bool, str]:
    """The run's inputs (CRON_* / PIPELINE_DEVICE / ENABLE_* on the command line) resolve to valid parameters."""
    params = load().params
    return True, (f"{len(params.tickers)} ticker(s), {params.start}..{params.end}, mode {params.mode}, "
                  f"device {params.pipeline_device}")


def check_database() -> tuple[bool, str]:
    """The portfolio database opens, migrates and (SQLite) passes ``PRAGMA integrity_check``."""
    from portfolio.database_manager import DatabaseManager

    db = DatabaseManager()
    db.connect().close()
    problems = db.integrity_check()
    return (not problems), (f"{db.location} ok" if not problems else f"{db.location}: {'; '.join(problems[:3])}")


def check_secrets() -> tuple[bool, str]:
    """Secrets load; report which are present. Live mode needs at least one usable live source."""
    import importlib.util

    from portfolio.secret_loader import env_file_path, load_env_file, secrets_status
    from portfolio.settings import load_settings

    load_env_file()
    status = secrets_status()
    present = [k for k, v in status.items() if v]
    absent = [k for k, v in status.items() if not v]
    reason = (f".env {'found' if env_file_path().exists() else 'absent'}; "
              f"present: {', '.join(present) or 'none'}; absent: {', '.join(absent) or 'none'}")
    from portfolio.run_scope import current

    inputs = current()
    mode = inputs.params.mode if inputs else os.environ.get("CRON_EXEC_MODE") or load_settings().execution_mode
    live_keys = status.get("ALPHA_VANTAGE_API_KEY") or status.get("FINNHUB_API_KEY")
    if mode == "live" and not live_keys and importlib.util.find_spec("yfinance") is None:
        return False, reason + "; live mode but no live source is usable (no API key, no yfinance)"
    return True, reason


def check_calendar() -> tuple[bool, str]:
    """The exchange calendar builds and answers a market-status query."""
    from portfolio.calendar import market_status
    from portfolio.settings import load_settings

    return True, market_status(datetime.now(UTC), load_settings().quality.calendar).describe()


def check_log_dir() -> tuple[bool, str]:
    """The pipeline log directory is writable."""
    from foundation.pipeline_logger import get_logger

    directory = get_logger().log_dir
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test-"):
        pass
    return True, f"{directory} writable"


CHECKS: dict[str, Callable[[], tuple[bool, str]]] = {
    "python": check_python, "venv": check_venv, "config": check_config, "run_params": check_run_params,
    "database": check_database, "secrets": check_secrets, "calendar": check_calendar,
    "log_dir": check_log_dir,
}


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(NAME, __doc__ or "")
    parser.add_argument("--only", help="comma-separated subset of checks: " + ", ".join(CHECKS))
    return parser


def run(*, only: str | list[str] | None = None,
        load_inputs: Callable[[], RunInputs] | None = None) -> dict[str, Any]:
    """Run the checks; return ``{"ok", "checks": {name: {"ok", "reason"}}, "failed"}`` (never raises).

    ``load_inputs`` resolves the run's inputs (default: :func:`cli_run_inputs`); the ``run_params`` check fails
    when they do not resolve, and the other checks see them (database path, Connection secrets, mode).
    """
    from foundation.redaction import bounded
    from portfolio.params import ParameterError
    from portfolio.run_scope import bound

    names = [n.strip() for n in only.split(",")] if isinstance(only, str) else list(only or CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ParameterError(f"only={','.join(unknown)!r}: unknown check(s); expected {', '.join(CHECKS)}")
    inputs: RunInputs | None = None
    error: Exception | None = None
    try:
        inputs = (load_inputs or cli_run_inputs)()
    except Exception as exc:  # reported by the run_params check
        error = exc

    def resolved() -> RunInputs:
        if inputs is None:
            raise error or RuntimeError("run inputs unavailable")
        return inputs

    checks: dict[str, dict[str, Any]] = {}
    with bound(inputs):
        for name in names:
            try:
                ok, reason = check_run_params(resolved) if name == "run_params" else CHECKS[name]()
            except Exception as exc:  # a failing check is a result, not a crash
                ok, reason = False, f"{type(exc).__name__}: {bounded(str(exc), 400)}"
            checks[name] = {"ok": bool(ok), "reason": reason}
    failed = [n for n, c in checks.items() if not c["ok"]]
    return {"ok": not failed, "failed": failed, "checks": checks}


def _run_strict(**kwargs: Any) -> dict[str, Any]:
    summary = run(**kwargs)
    if not summary["ok"]:
        print(json.dumps(summary, indent=2, sort_keys=True))
        reasons = "; ".join(f"{n}: {summary['checks'][n]['reason']}" for n in summary["failed"])
        raise EnvironmentNotReady(f"{len(summary['failed'])} check(s) failed: {reasons}")
    return summary


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 when every check passes, 1 when one fails, 2 on bad arguments."""
    return cli_main(NAME, build_parser(), _run_strict, argv)


if __name__ == "__main__":
    sys.exit(main())
