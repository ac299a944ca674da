"""Shared command-line wrapper for the ``scripts/`` entrypoints.

Every entrypoint is a module with ``build_parser()``, a plain function ``run(**kwargs) -> dict`` (the API the
Airflow operators call) and ``main(argv) -> int``. A ``run()`` that takes the run's parameters declares
``inputs: RunInputs`` (:mod:`portfolio.run_inputs`): the operators resolve them once from the run, and
:func:`cli_main` resolves them from the command line with the seed's ``CRON_*`` environment as fallback (the
only place that fallback is read for a command). :func:`cli_main` parses the arguments, emits
``entrypoint_start`` / ``entrypoint_finish`` / ``entrypoint_failed`` pipeline events, prints the summary as
JSON and turns errors into one line on stderr: exit 2 for bad arguments or config, 1 for a failed run.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from foundation.config_loader import ConfigError
from foundation.dsn import redact_dsn
from foundation.pipeline_logger import get_logger
from foundation.redaction import _SENSITIVE_KEY, MASK, bounded
from portfolio.params import ParameterError
from portfolio.run_inputs import RunInputs, resolve_run_inputs
from portfolio.run_scope import bound
from scripts.incidents import route_domain_incidents

USAGE_ERRORS = (ConfigError, ParameterError)
# argparse destination of a common run argument -> its RunInputs key (see add_run_arguments)
CLI_RUN_KEYS: dict[str, str] = {
    "tickers": "tickers", "start": "start_date", "end": "end_date", "mode": "execution_mode",
    "pipeline_device": "pipeline_device", "enable_gpu_parallel": "enable_gpu_parallel",
    "enable_parallel_tickers": "enable_parallel_tickers",
}
EXIT_FAILED = 1
EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are a single line: ``<prog>: error: <reason>``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def make_parser(prog: str, description: str) -> OneLineParser:
    """A parser for entrypoint ``prog`` with the module docstring as description."""
    return OneLineParser(prog=prog, description=description,
                         formatter_class=argparse.RawDescriptionHelpFormatter)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The seed's common run arguments (each falls back to its ``CRON_*`` variable, then config)."""
    parser.add_argument("--tickers", help="comma-separated tickers (env CRON_TICKERS)")
    parser.add_argument("--start-date", dest="start", help="YYYY-MM-DD (env CRON_START_DATE)")
    parser.add_argument("--end-date", dest="end", help="YYYY-MM-DD, default today (env CRON_END_DATE)")
    parser.add_argument("--mode", choices=["live", "synthetic", "auto"], help="data mode (env CRON_EXEC_MODE)")
    parser.add_argument("--device", dest="pipeline_device", choices=["cpu", "cuda", "auto"],
                        help="compute device (env PIPELINE_DEVICE)")


def takes_inputs(run: Callable[..., Any]) -> bool:
    """Whether ``run`` declares an ``inputs`` parameter (a :class:`RunInputs`)."""
    return "inputs" in inspect.signature(run).parameters


def _logged_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments as logged: a :class:`RunInputs` as its parameters and locations (a database DSN with its
    password masked), never its secrets."""
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if isinstance(value, RunInputs):
            dsn = redact_dsn(value.database_dsn) if value.database_dsn else None
            out.update({k: v for k, v in (("database_path", value.database_path), ("database_dsn", dsn),
                                          ("synthetic_dataset_id", value.synthetic_dataset_id)) if v})
            out.update(value.params.as_dict())
        elif value is not None:
            out[key] = value
    return out


def run_logged(name: str, run: Callable[..., dict[str, Any]], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Call ``run(**kwargs)`` between ``entrypoint_start`` and ``entrypoint_finish``/``entrypoint_failed`` events.

    The caller binds the run's :class:`RunInputs` (:mod:`portfolio.run_scope`): the operator for the task, the
    command line in :func:`cli_main`.
    """
    log = get_logger(name)
    started = time.monotonic()
    log.pipeline("entrypoint_start", entrypoint=name, args=_logged_args(kwargs))
    try:
        summary = run(**kwargs)
    except Exception as exc:
        usage = isinstance(exc, USAGE_ERRORS)
        if isinstance(exc, ConfigError):  # a broken domain config is itself an event (the event log needs none)
            secret = bool(_SENSITIVE_KEY.search(exc.key or ""))
            log.error("config_invalid", entrypoint=name, file=exc.file, key=exc.key,
                      value=MASK if secret else bounded(repr(exc.value), 200), problem=bounded(exc.problem, 500))
        log.error("entrypoint_failed", entrypoint=name, error_type=type(exc).__name__, error=bounded(str(exc)),
                  duration_s=round(time.monotonic() - started, 3),
                  **({} if usage else {"traceback": bounded(traceback.format_exc(), 4000)}))
        raise
    finally:
        route_domain_incidents(log, name)
    log.pipeline("entrypoint_finish", entrypoint=name, duration_s=round(time.monotonic() - started, 3),
                 summary=summary)
    return summary


def cli_inputs(args: dict[str, Any], *, core: bool = False) -> RunInputs:
    """The run inputs of a command line: its run arguments, then the ``CRON_*`` environment, then config.

    Pops the run arguments (:data:`CLI_RUN_KEYS`) from ``args``.
    """
    values = {key: args.pop(dest) for dest, key in CLI_RUN_KEYS.items() if dest in args}
    return resolve_run_inputs(values, environ=os.environ, core=core)


def _with_cli_inputs(run: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``run`` called with the :class:`RunInputs` of its command line (when it takes them)."""
    if not takes_inputs(run):
        return run

    def call(**args: Any) -> dict[str, Any]:
        inputs = cli_inputs(args, core=bool(args.get("core_mode")))
        with bound(inputs):
            return run(inputs=inputs, **args)

    return call


def cli_main(name: str, parser: argparse.ArgumentParser, run: Callable[..., dict[str, Any]],
             argv: Sequence[str] | None = None, *, single_thread_blas: bool = False) -> int:
    """Parse ``argv`` and call ``run(**args)`` with events; print the summary; return the exit code.

    ``single_thread_blas`` defaults BLAS to one thread first (:func:`portfolio.automation.limit_blas_threads`),
    for the jobs that fit many small models.
    """
    if single_thread_blas:
        from portfolio.automation import limit_blas_threads

        limit_blas_threads()
    args = vars(parser.parse_args(argv))
    try:
        summary = run_logged(name, _with_cli_inputs(run), args)
    except USAGE_ERRORS as exc:  # bad arguments or config (a malformed pipeline.yml included)
        print(f"{name}: error: {bounded(str(exc), 500)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        print(f"{name}: failed: {type(exc).__name__}: {bounded(str(exc), 500)}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(summary, default=str, indent=2, sort_keys=True))
    return 0
