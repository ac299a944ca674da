"""The event log depends on ``observability.yml`` only, and an unwritable log never stops a job."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest

from foundation import pipeline_logger
from foundation.config_loader import ConfigError
from foundation.pipeline_logger import PipelineLogger, get_logger, load_event_log_settings, read_events
from portfolio.settings import load_settings
from tests.support import received_lines


def _break_pipeline_yml(config: Path) -> None:
    path = config / "pipeline.yml"
    text = path.read_text()
    assert "  max_position_fraction: 0.10\n" in text
    path.write_text(text.replace("  max_position_fraction: 0.10\n", "  max_position_fraction: 1.5\n"))


def test_a_broken_pipeline_yml_does_not_touch_the_event_log(config_copy: Path, pmx_home: Path) -> None:
    _break_pipeline_yml(config_copy)
    with pytest.raises(ConfigError, match=r"pipeline\.yml: broker\.max_position_fraction = 1\.5"):
        load_settings(fresh=True)
    assert get_logger("etl").log_event("still_here") is True
    assert [e["event"] for e in read_events(pmx_home / "logs" / "pipeline")] == ["still_here"]


def test_settings_come_from_observability_yml_and_its_overlay(config_copy: Path) -> None:
    assert load_event_log_settings(config_copy, "dev").retention_days == 7
    assert load_event_log_settings(config_copy, "prod").retention_days == 14
    (config_copy / "observability.yml").write_text(
        (config_copy / "observability.yml").read_text().replace("max_bytes: 10485760", "max_bytes: 2048"))
    assert load_event_log_settings(config_copy, "dev").max_bytes == 2048


def test_event_log_ignores_the_listener_sections(config_copy: Path) -> None:
    path = config_copy / "observability.yml"
    path.write_text(path.read_text().replace("queue_size: 1000", "queue_size: -1"))
    assert load_event_log_settings(config_copy, "dev").max_bytes == 10485760


def test_a_bad_overlay_value_names_the_overlay_file(config_copy: Path) -> None:
    (config_copy / "environments" / "staging.yml").write_text("observability:\n  event_log:\n    max_bytes: 5\n")
    with pytest.raises(ConfigError, match=r"staging\.yml: event_log\.max_bytes = 5"):
        load_event_log_settings(config_copy, "staging")


def test_a_broken_event_log_section_falls_back_and_says_so(config_copy: Path, pmx_home: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = config_copy / "observability.yml"
    path.write_text(path.read_text().replace("max_bytes: 10485760", "max_bytes: many"))
    log = get_logger("etl")
    log.log_event("after")
    get_logger("etl").log_event("again")
    assert log.max_bytes == 10 * 1024 * 1024
    err = capsys.readouterr().err
    assert err.count("observability.yml: event_log.max_bytes = 'many'") == 1
    events = list(read_events(pmx_home / "logs" / "pipeline"))
    assert [e["event"] for e in events] == ["config_invalid", "after", "again"]
    assert "event_log.max_bytes" in events[0]["error"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES], ids=["disk-full", "read-only", "denied"])
def test_failed_writes_are_counted_reported_once_and_never_raise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        udp_metrics: socket.socket, code: int) -> None:
    def failing_write(fd: int, data: bytes) -> int:
        raise OSError(code, os.strerror(code))

    log = PipelineLogger(tmp_path / "logs")
    monkeypatch.setattr(pipeline_logger.os, "write", failing_write)
    results = [log.log_event("tick", seq=i) for i in range(3)] + [log.error("boom")]
    assert results == [False, False, False, False]
    assert log.health.failures == 5  # the error event fails twice: events and errors
    err = capsys.readouterr().err
    assert err.count("portfolio event log: cannot write") == 1
    assert os.strerror(code) in err and "the job continues" in err
    name = errno.errorcode[code].lower()
    lines = [x for x in received_lines(udp_metrics) if x.startswith("pmx.observability.failure")]
    assert lines == [f"pmx.observability.failure,component=event_log,reason={name}:1|c"] * 5


def test_a_real_unwritable_directory_that_root_cannot_bypass(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the log directory should be")  # ENOTDIR, for root too
    log = PipelineLogger(blocker / "pipeline")
    assert log.log_event("a") is False and log.log_event("b") is False
    assert log.health.failures == 2
    assert capsys.readouterr().err.count("Not a directory") == 1
