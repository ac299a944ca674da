"""Component logs are masked: the structlog processor, the stdlib filter, and their installation in every
Airflow process through ``airflow_local_settings.configure_logging``."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from foundation import redaction
from listeners import log_masking
from listeners.log_masking import MaskingFilter, install, mask_processor

SECRET = "cAnArY-logs-9c8b7a65"


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(redaction, "_secrets", frozenset())
    redaction.register_secret(SECRET)
    return SECRET


def test_the_processor_masks_every_value_of_a_log_event(registered: str) -> None:
    event = {"event": f"run conf: {{'note': '{registered}'}}", "level": "info", "timestamp": "t",
             "error_detail": [{"exc_type": "PermissionError", "exc_value": f"credential used: {registered}"}],
             "note_token": "anything", "dsn": "host=h password=pw1234", "try_number": 1}
    assert mask_processor(None, "info", event) == {
        "event": "run conf: {'note': '***'}", "level": "info", "timestamp": "t",
        "error_detail": [{"exc_type": "PermissionError", "exc_value": "credential used: ***"}],
        "note_token": "***", "dsn": "***", "try_number": 1}


def test_the_processor_withholds_the_line_when_masking_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(value: object, key: object = None) -> object:
        raise RuntimeError("masker down")

    monkeypatch.setattr(log_masking, "scrub_data", broken)
    assert mask_processor(None, "info", {"event": SECRET, "level": "info"}) == {
        "level": "info", "event": log_masking.WITHHELD}


def test_the_stdlib_filter_masks_message_arguments_and_traceback(registered: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    logger = logging.getLogger("pmx.test.log_masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("login with %s failed", registered)
        try:
            raise PermissionError(f"credential used: {registered}")
        except PermissionError:
            logger.exception("task failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert registered not in text
    assert "login with *** failed" in text and "credential used: ***" in text


@pytest.fixture
def structlog_output() -> Iterator[io.StringIO]:
    """structlog writing plain lines to a buffer; the previous configuration restored afterwards."""
    previous = structlog.get_config()
    out = io.StringIO()
    structlog.configure(processors=[structlog.processors.KeyValueRenderer(key_order=["event"])],
                        logger_factory=structlog.PrintLoggerFactory(out), cache_logger_on_first_use=True)
    yield out
    structlog.configure(**previous)


def test_install_masks_loggers_bound_before_it_and_is_idempotent(structlog_output: io.StringIO,
                                                                  registered: str) -> None:
    early = structlog.get_logger("early")
    early.info("before install")  # cached with the processor list of that moment
    install()
    install()
    assert structlog.get_config()["processors"].count(mask_processor) == 1
    early.info(f"credential used: {registered}")
    structlog.get_logger("late").info("late", note_token=registered)
    lines = structlog_output.getvalue().splitlines()
    assert registered not in structlog_output.getvalue()
    assert lines[1:] == ["event='credential used: ***'", "event='late' note_token='***'"]


def test_install_filters_the_handlers_of_loggers_configured_with_their_own(structlog_output: io.StringIO,
                                                                         registered: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("pmx.test.own_handler")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        install()
        logger.error("credential used: %s", registered)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "credential used: ***\n"


def test_airflow_uses_the_projects_configure_logging() -> None:
    import airflow.settings

    assert airflow.settings.configure_logging is log_masking.configure_logging


def test_a_fresh_airflow_process_masks_what_its_task_sdk_masker_knows(tmp_path: Path) -> None:
    """What the LocalExecutor worker does: the supervisor's masker learned a Connection password, and the
    task output it forwards to the component log must come out masked."""
    code = textwrap.dedent(f"""
        import logging
        import airflow  # configures logging
        import structlog
        from airflow.sdk._shared.secrets_masker import mask_secret
        mask_secret({SECRET!r})
        structlog.get_logger("task").info("Task failed with exception",
                                          error_detail=[{{"exc_value": "credential used: {SECRET}"}}])
        logging.getLogger("airflow.test").error("stdlib line %s", {SECRET!r})
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update({"AIRFLOW_HOME": str(tmp_path), "NO_COLOR": "1"})
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=True)
    output = proc.stdout + proc.stderr
    assert "Task failed with exception" in output and "stdlib line ***" in output, output
    assert SECRET not in output
