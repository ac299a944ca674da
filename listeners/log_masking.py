"""Secrets masking for the component logs (scheduler, triggerer, dag-processor, api-server, executor workers).

Airflow masks task logs but configures its component logs without a masker: the LocalExecutor worker
forwards each task's output to its own stdout (``subprocess_logs_to_stdout``), so the scheduler log carried
the unmasked copy of a task's log, the task-failure line included. The worker's task-SDK masker does know
the secrets (the task tells its supervisor every Connection password and sensitive Variable it fetched), it
is just not applied there.

:func:`configure_logging` replaces ``airflow.settings.configure_logging`` through the repository's
``airflow_local_settings.py`` (Airflow's hook for overriding its settings functions): it runs Airflow's own
configuration, then adds :func:`mask_processor` before the renderer of structlog and :class:`MaskingFilter`
to every configured stdlib handler, so every line a component writes passes :func:`foundation.scrub.scrub_data`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from foundation.scrub import scrub, scrub_data

WITHHELD = "<log line withheld: secrets masking failed>"
_local = threading.local()


def mask_processor(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: every value of the event masked (secret-looking keys, known secrets, pairs)."""
    if getattr(_local, "busy", False):  # a masker logging about itself: do not recurse
        return event_dict
    _local.busy = True
    try:
        return {k: v if k in ("timestamp", "level", "logger", "logger_name") else scrub_data(v, k)
                for k, v in event_dict.items()}
    except Exception:
        return {k: event_dict[k] for k in ("timestamp", "level", "logger") if k in event_dict} | {"event": WITHHELD}
    finally:
        _local.busy = False


class MaskingFilter(logging.Filter):
    """stdlib filter: the formatted message (and traceback) of a record, masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_local, "busy", False):
            return True
        _local.busy = True
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
                record.exc_info = None
            record.msg, record.args, record.exc_text = scrub(text), (), None
        except Exception:
            record.msg, record.args, record.exc_info, record.exc_text = WITHHELD, (), None, None
        finally:
            _local.busy = False
        return True


def install() -> None:
    """Add the masking processor to structlog and the filter to the root handlers (idempotent)."""
    import structlog

    # the configured list itself: loggers cached before this call share it and see the change too
    processors = structlog.get_config().get("processors")
    if isinstance(processors, list) and processors and mask_processor not in processors:
        processors.insert(len(processors) - 1, mask_processor)  # just before the renderer
    loggers = [logging.getLogger()] + [v for v in logging.root.manager.loggerDict.values()
                                       if isinstance(v, logging.Logger)]
    for handler in {h for logger in loggers for h in logger.handlers}:  # root's and any logger's own
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())


def configure_logging() -> Any:
    """Airflow's ``configure_logging`` followed by :func:`install` (masking must not stop a component)."""
    from airflow.logging_config import configure_logging as airflow_configure_logging

    result = airflow_configure_logging()
    try:
        install()
    except Exception as exc:  # keep Airflow's logging as it is rather than fail the component
        logging.getLogger(__name__).warning("component log masking not installed: %s", type(exc).__name__)
    return result
