"""Shared command-line wrapper for the ``scripts/`` entrypoints.

Every entrypoint is a module with ``build_parser()``, a plain function ``run(**kwargs) -> dict`` (the API the
Airflow operators call) and ``main(argv) -> int``. :func:`cli_main` parses the arguments, emits
``entrypoint_start`` / ``entrypoint_finish`` / ``entrypoint_failed`` pipeline events, prints the summary as
JSON and turns errors into one line on stderr: exit 2 for bad arguments or config, 1 for a failed run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from foundation.config_loader import ConfigError
from foundation.pipeline_logger import get_logger
from foundation.redaction import _SENSITIVE_KEY, MASK, bounded
from portfolio.params import ParameterError
from scripts.incidents import route_domain_incidents

USAGE_ERRORS = (ConfigError, ParameterError)
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


def run_logged(name: str, run: Callable[..., dict[str, Any]], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Call ``run(**kwargs)`` between ``entrypoint_start`` and ``entrypoint_finish``/``entrypoint_failed`` events."""
    log = get_logger(name)
    started = time.monotonic()
    log.pipeline("entrypoint_start", entrypoint=name, args={k: v for k, v in kwargs.items() if v is not None})
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
        summary = run_logged(name, run, args)
    except USAGE_ERRORS as exc:  # bad arguments or config (a malformed pipeline.yml included)
        print(f"{name}: error: {bounded(str(exc), 500)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        print(f"{name}: failed: {type(exc).__name__}: {bounded(str(exc), 500)}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(summary, default=str, indent=2, sort_keys=True))
    return 0
