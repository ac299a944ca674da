"""Outputs: JSON lines in the pipeline_logger streams, batched StatsD datagrams, failures counted once."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from foundation.metrics import StatsdClient
from foundation.pipeline_logger import PipelineLogger, read_events
from foundation.statsd_sender import tag_text, value_text
from listeners.emit import MAX_PACKET, EventWriter, FailureCounter, StatsdSender
from tests.unit.listeners._support import UdpReceiver


def _inline(job: Any) -> bool:
    job()
    return True


def test_error_level_records_are_copied_to_the_errors_stream(tmp_path: Path) -> None:
    writer = EventWriter(FailureCounter(), PipelineLogger(tmp_path))
    failed = {"event": "task_failed", "level": "error", "stream": "pipeline"}
    assert writer.write(failed) == ["pipeline", "errors"]
    assert writer.write({"event": "task_success", "level": "info", "stream": "pipeline"}) == ["pipeline"]
    assert [e["event"] for e in read_events(tmp_path, "pipeline")] == ["task_failed", "task_success"]
    assert [e["event"] for e in read_events(tmp_path, "errors")] == ["task_failed"]
    assert writer.written == {"pipeline": 2, "errors": 1}


def test_an_unwritable_log_dir_is_counted_and_reported_once(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log directory should be")
    failures, reports = FailureCounter(), []
    failures.report_event = reports.append
    writer = EventWriter(failures, PipelineLogger(blocker / "pipeline"))
    for _ in range(3):
        assert writer.write({"event": "task_success", "level": "info", "stream": "pipeline"}) == []
    assert failures.counts == {"event_write": 3}
    assert len(reports) == 1 and reports[0]["reason"] == "event_write"
    assert reports[0]["error_type"] in ("NotADirectoryError", "FileExistsError")


def test_a_failure_while_reporting_a_failure_does_not_recurse() -> None:
    failures = FailureCounter()
    failures.report_metric = lambda reason: failures.record("statsd_send")
    failures.record("event_write")
    assert failures.counts == {"event_write": 1, "statsd_send": 1}


@pytest.mark.parametrize(("name", "value", "kind", "tags"), [
    ("task.event", 1, "c", {"dag_id": "daily_etl", "task_id": "extract", "state": "success"}),
    ("task.duration", 1234.5678901, "ms", {"dag_id": "a,b=c d", "task_id": "x|y:z#"}),
    ("task.peak_rss", 312_000_000, "g", {"dag_id": "d", "skip": None}),
    ("dag_processing.import_error", 1, "c", None),
    ("listener.hook_latency", float("nan"), "ms", {"hook": "on_starting"}),
], ids=["counter", "escaped-timer", "gauge-none-tag", "no-tags", "nan"])
def test_lines_match_the_project_statsd_client(name: str, value: float, kind: str, tags: Any) -> None:
    sender = StatsdSender(FailureCounter(), _inline)
    expected = StatsdClient(enabled=False).line(name, value, kind, tags)
    assert sender.line(name, value, kind, tags) == expected
    assert sender.tagged(name, value, kind, tag_text(tags)) == expected
    assert value_text(value) == expected.rsplit(":", 1)[1].split("|")[0]


def test_one_datagram_per_batch_split_below_the_mtu(udp: UdpReceiver) -> None:
    sender = StatsdSender(FailureCounter(), _inline)
    sender.send([f"pmx.task.event,dag_id=d,task_id=t{i}:1|c" for i in range(3)])
    many = [f"pmx.task.event,dag_id=d,task_id={'x' * 40}{i}:1|c" for i in range(80)]
    sender.send(many)
    udp.lines()
    assert udp.packets[0].splitlines() == [f"pmx.task.event,dag_id=d,task_id=t{i}:1|c" for i in range(3)]
    rest = udp.packets[1:]
    assert len(rest) > 1 and all(len(p) <= MAX_PACKET for p in rest)
    assert [x for p in rest for x in p.splitlines()] == many
    assert sender.sent == len(udp.packets)


def test_a_host_name_is_resolved_off_the_hook(udp: UdpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    queued: list[Any] = []
    monkeypatch.setenv("PMX_STATSD_HOST", "localhost")
    sender = StatsdSender(FailureCounter(), lambda job: queued.append(job) or True)
    sender.send(["pmx.a:1|c"])
    assert sender.dropped == 1 and udp.lines() == [] and len(queued) == 1  # not resolved yet: counted drop
    queued[0]()  # the background worker resolves it
    sender.send(["pmx.b:1|c"])
    assert udp.lines() == ["pmx.b:1|c"]


def test_an_unresolvable_host_is_a_counted_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMX_STATSD_HOST", "statsd.invalid")
    monkeypatch.setenv("PMX_STATSD_ENABLED", "true")
    failures = FailureCounter()
    sender = StatsdSender(failures, _inline)
    sender.send(["pmx.a:1|c"])
    sender.send(["pmx.b:1|c"])
    assert failures.counts["statsd_resolve"] == 1 and sender.sent == 0 and sender.dropped == 2


def test_a_closed_port_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PMX_STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("PMX_STATSD_PORT", str(port))
    monkeypatch.setenv("PMX_STATSD_ENABLED", "true")
    sender = StatsdSender(FailureCounter(), _inline)
    for _ in range(20):
        sender.send(["pmx.a:1|c"])
    assert sender.sent + sender.failures.counts["statsd_send"] == 20


def test_disabled_statsd_sends_nothing(udp: UdpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMX_STATSD_ENABLED", "false")
    sender = StatsdSender(FailureCounter(), _inline)
    sender.send(["pmx.a:1|c"])
    assert udp.lines() == [] and sender.sent == 0 and sender.dropped == 0
