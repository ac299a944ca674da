from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest

from foundation.pipeline_logger import PipelineLogger, get_logger, prune_rotated, read_events


def _writer(log_dir: str, writer_id: int, count: int, max_bytes: int) -> None:
    log = PipelineLogger(log_dir, max_bytes=max_bytes)
    for seq in range(count):
        log.log_event("tick", writer=writer_id, seq=seq, payload="x" * (seq % 50))


def test_event_line_has_schema_fields(tmp_path: Path) -> None:
    log = PipelineLogger(tmp_path, component="etl")
    log.log_event("etl_start", ticker="AAPL")
    (event,) = list(read_events(tmp_path))
    assert event["event"] == "etl_start"
    assert event["ticker"] == "AAPL"
    assert event["component"] == "etl"
    assert event["level"] == "info"
    assert event["ts"].endswith("Z") and "T" in event["ts"]
    assert isinstance(event["pid"], int) and event["hostname"]


def test_error_events_are_copied_to_errors_stream(tmp_path: Path) -> None:
    log = PipelineLogger(tmp_path)
    log.error("load_failed", ticker="MSFT")
    log.pipeline("stage_done")
    assert [e["event"] for e in read_events(tmp_path, "errors")] == ["load_failed"]
    assert [e["event"] for e in read_events(tmp_path, "events")] == ["load_failed"]
    assert [e["event"] for e in read_events(tmp_path, "pipeline")] == ["stage_done"]


def test_rotation_by_size_keeps_every_line(tmp_path: Path) -> None:
    log = PipelineLogger(tmp_path, max_bytes=2048)
    for seq in range(200):
        log.log_event("tick", seq=seq)
    rotated = [p for p in tmp_path.glob("events.jsonl.*") if not p.name.endswith(".lock")]
    assert len(rotated) >= 5
    assert all(p.stat().st_size <= 2048 for p in rotated)
    assert [e["seq"] for e in read_events(tmp_path)] == list(range(200))


def test_concurrent_processes_across_rotation_lose_and_tear_nothing(tmp_path: Path) -> None:
    writers, per_writer = 6, 400
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, per_writer, 8192)) for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    files = [p for p in tmp_path.glob("events.jsonl*") if not p.name.endswith(".lock")]
    assert len(files) > 10, "the run must cross many rotations"
    seen: dict[int, list[int]] = {w: [] for w in range(writers)}
    for path in files:
        for line in path.read_text().splitlines():
            record = json.loads(line)  # a torn line would fail to parse
            seen[record["writer"]].append(record["seq"])
    for writer, seqs in seen.items():
        assert sorted(seqs) == list(range(per_writer)), f"writer {writer} lost or duplicated lines"
    ordered = [e for e in read_events(tmp_path) if e["writer"] == 0]
    assert [e["seq"] for e in ordered] == list(range(per_writer)), "reading back must preserve each writer's order"


def test_retention_prunes_old_rotated_files(tmp_path: Path) -> None:
    log = PipelineLogger(tmp_path, max_bytes=1024, retention_days=7)
    for seq in range(100):
        log.log_event("tick", seq=seq)
    rotated = sorted(p for p in tmp_path.glob("events.jsonl.*") if not p.name.endswith(".lock"))
    old = rotated[0]
    eight_days_ago = time.time() - 8 * 86400
    import os

    os.utime(old, (eight_days_ago, eight_days_ago))
    removed = prune_rotated(tmp_path / "events.jsonl", 7)
    assert removed == [old]
    assert not old.exists()
    assert (tmp_path / "events.jsonl").exists()


def test_secrets_are_redacted(tmp_path: Path) -> None:
    from foundation.redaction import register_secret

    register_secret("hunter2-very-secret")
    log = PipelineLogger(tmp_path)
    log.log_event("connect", detail="password is hunter2-very-secret", api_key="abc123")
    text = (tmp_path / "events.jsonl").read_text()
    assert "hunter2-very-secret" not in text
    assert "abc123" not in text
    assert json.loads(text)["detail"] == "password is ***"


def test_unwritable_directory_raises_from_write_line_only(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    log = PipelineLogger(blocker / "sub")
    with pytest.raises(OSError):
        log.write_line(b"{}\n", "events")  # the listener counts its own failures from this
    assert log.log_event("x") is False  # a domain job never sees it


def test_get_logger_follows_pmx_log_dir(pmx_home: Path) -> None:
    get_logger("etl").log_event("hello")
    assert (pmx_home / "logs" / "pipeline" / "events.jsonl").exists()


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"secrets": {"ok": True, "reason": "absent"}}, id="dict-under-sensitive-key"),
        pytest.param({"token_count": 5, "api_key_present": False}, id="numbers-under-sensitive-keys"),
        pytest.param({"note": "password: {curly}", "items": ["token=[x]"]}, id="brackets-in-text"),
    ],
)
def test_redaction_never_breaks_the_json_line(tmp_path: Path, fields: dict) -> None:
    log = PipelineLogger(tmp_path)
    log.log_event("check", **fields)
    (event,) = list(read_events(tmp_path))
    assert event["event"] == "check"
    assert set(fields) <= set(event)
