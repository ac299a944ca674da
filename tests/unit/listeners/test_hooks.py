"""The listener's hooks with Airflow-shaped objects: events, metrics, alerts, redaction, never raising."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from alerts.outbox import Outbox
from foundation import redaction
from listeners import config as listener_config
from listeners.hooks import PortfolioListener, component_name
from listeners.schema import schema_errors
from tests.support import free_port
from tests.unit.listeners._support import UdpReceiver, fake_run, fake_ti, listener_events


class TaskRunnerMarker:
    """Same class name as the task SDK's marker."""


def _fail(listener: PortfolioListener, task_id: str) -> None:
    ti = fake_ti(task_id, state="failed", max_tries=0)
    listener.on_task_instance_failed("running", ti, ValueError("x"))


def _run_a_task_through_every_state(listener: PortfolioListener) -> None:
    listener.on_dag_run_running(fake_run("running"), "started")
    listener.on_task_instance_running("queued", fake_ti("ok", state="running"))
    listener.on_task_instance_success("running", fake_ti("ok", state="success"))
    listener.on_task_instance_running("queued", fake_ti("flaky", state="running"))
    listener.on_task_instance_failed("running", fake_ti("flaky", state="up_for_retry"), RuntimeError("try 1"))
    listener.on_task_instance_running("queued", fake_ti("flaky", state="running", try_number=2))
    listener.on_task_instance_success("running", fake_ti("flaky", state="success", try_number=2))
    listener.on_task_instance_running("queued", fake_ti("broken", state="running", max_tries=0))
    broken = fake_ti("broken", state="failed", max_tries=0)
    listener.on_task_instance_failed("running", broken, ValueError("boom"))
    listener.on_task_instance_running("queued", fake_ti("skipper", state="running"))
    listener.on_task_instance_skipped("running", fake_ti("skipper", state="skipped", end=False))
    listener.on_dag_run_failed(fake_run("failed"), "task_failure")
    assert listener.flush(10)


def test_every_hook_writes_one_valid_event_in_order(listener: PortfolioListener, pmx_home: Path) -> None:
    _run_a_task_through_every_state(listener)
    events = listener_events(pmx_home)
    assert [(e["event"], e.get("task_id")) for e in events] == [
        ("dag_run_running", None), ("task_running", "ok"), ("task_success", "ok"),
        ("task_running", "flaky"), ("task_up_for_retry", "flaky"), ("task_running", "flaky"),
        ("task_success", "flaky"), ("task_running", "broken"), ("task_failed", "broken"),
        ("task_running", "skipper"), ("task_skipped", "skipper"), ("dag_run_failed", None)]
    assert {e["event"]: schema_errors(e) for e in events if schema_errors(e)} == {}
    errors = [e["event"] for e in listener_events(pmx_home, "errors")]
    assert errors == ["task_failed", "dag_run_failed"]  # error level: copied to the errors stream
    assert listener.failures.total == 0


def test_metrics_follow_the_documented_names(listener: PortfolioListener, udp: UdpReceiver) -> None:
    _run_a_task_through_every_state(listener)
    lines = udp.lines("pmx.")
    events = Counter(x for x in lines if x.startswith("pmx.task.event,"))
    assert events == Counter({
        "pmx.task.event,dag_id=daily_etl,task_id=ok,state=running:1|c": 1,
        "pmx.task.event,dag_id=daily_etl,task_id=ok,state=success:1|c": 1,
        "pmx.task.event,dag_id=daily_etl,task_id=flaky,state=running:1|c": 2,
        "pmx.task.event,dag_id=daily_etl,task_id=flaky,state=up_for_retry:1|c": 1,
        "pmx.task.event,dag_id=daily_etl,task_id=flaky,state=success:1|c": 1,
        "pmx.task.event,dag_id=daily_etl,task_id=broken,state=running:1|c": 1,
        "pmx.task.event,dag_id=daily_etl,task_id=broken,state=failed:1|c": 1,
        "pmx.task.event,dag_id=daily_etl,task_id=skipper,state=running:1|c": 1,
        "pmx.task.event,dag_id=daily_etl,task_id=skipper,state=skipped:1|c": 1})
    assert "pmx.task.duration,dag_id=daily_etl,task_id=ok,state=success:2000|ms" in lines
    assert sum(x.startswith("pmx.task.cpu_time,dag_id=daily_etl,task_id=") for x in lines) == 5
    assert sum(x.startswith("pmx.task.peak_rss,") and x.endswith("|g") for x in lines) == 5
    assert "pmx.dagrun.event,dag_id=daily_etl,state=failed:1|c" in lines
    assert "pmx.dagrun.duration,dag_id=daily_etl,state=failed:30000|ms" in lines
    hooks = Counter(x.split("hook=")[1].split(":")[0] for x in lines
                    if x.startswith("pmx.listener.hook_latency,"))
    assert hooks["on_task_instance_running"] == 5 and hooks["on_dag_run_failed"] == 1
    written = Counter(x for x in lines if x.startswith("pmx.listener.events_written,"))
    assert written == Counter({"pmx.listener.events_written,stream=pipeline:1|c": 12,
                               "pmx.listener.events_written,stream=errors:1|c": 2})


def test_a_task_runner_reports_its_lifecycle_and_drains_before_it_stops(listener: PortfolioListener,
                                                                          pmx_home: Path) -> None:
    marker = TaskRunnerMarker()
    listener.on_starting(marker)
    listener.on_task_instance_running("queued", fake_ti(state="running"))
    listener.on_task_instance_failed("running", fake_ti(state="failed", max_tries=0), ValueError("x"))
    listener.before_stopping(marker)  # no explicit flush: the hook drains both queues itself
    names = [e["event"] for e in listener_events(pmx_home)]
    assert names == ["component_starting", "task_running", "task_failed", "component_stopping"]
    stop = listener_events(pmx_home)[-1]
    assert stop["airflow_component"] == "task-runner" and stop["queue_flushed"] is True
    assert stop["events_written"] == 4 and stop["failures"] == 0  # starting, running, failed + errors copy
    assert listener.resources.whole_process
    snap = listener.bridge().store.snapshot()
    assert snap["windows"][0]["rule"] == "dag_failures" and snap["windows"][0]["count"] == 1


@pytest.mark.parametrize(("component", "argv", "expected"), [
    (SimpleNamespace(job_type="SchedulerJob"), ["airflow", "scheduler"], "scheduler"),
    (type("Job", (), {"job_type": None})(), ["airflow", "dag-processor"], "dag-processor"),
    (type("Job", (), {"job_type": None})(), ["pytest"], "job"),
    (TaskRunnerMarker(), ["python"], "task-runner"),
    (SimpleNamespace(job_type="TriggererJob"), ["airflow", "triggerer"], "triggerer"),
], ids=["scheduler", "job-before-type", "job-unknown", "task-runner", "triggerer"])
def test_component_names(component: Any, argv: list[str], expected: str,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", argv)
    assert component_name(component) == expected


def test_crossed_threshold_writes_an_alert_and_routes_it(state_backend: str, listener: PortfolioListener,
                                                         pmx_home: Path, udp: UdpReceiver) -> None:
    for i in range(4):  # default dag_failures: 3 within 60 minutes
        _fail(listener, f"t{i}")
    assert listener.flush(10)
    alerts = [e for e in listener_events(pmx_home) if e["event"] == "alert"]
    assert len(alerts) == 1 and schema_errors(alerts[0]) == []
    alert = alerts[0]
    assert (alert["rule"], alert["key"], alert["value"]) == ("dag_failures", "daily_etl", 3)
    assert alert["routed"] is True
    incident = Outbox().find("error_threshold", alert["dedup_key"])
    assert incident is not None and incident["dag_id"] == "daily_etl" and incident["severity"] == "error"
    assert "pmx.error_monitor.alert,rule=dag_failures,dag_id=daily_etl:1|c" in udp.lines("pmx.error_monitor")


def test_an_unreachable_postgresql_state_store_is_counted_and_the_hooks_go_on(
    listener: PortfolioListener, pmx_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PMX_ERROR_MONITOR_DSN", f"postgresql://pmx:s3cret-pw-77@127.0.0.1:{free_port()}/pmx")
    for i in range(3):
        _fail(listener, f"t{i}")
    assert listener.flush(10)
    assert listener.failures.counts == {"error_monitor": 3}
    events = listener_events(pmx_home)
    assert len([e for e in events if e["event"] == "task_failed"]) == 3
    (report,) = [e for e in events if e["event"] == "observability_failure"]
    assert report["error_type"] == "OperationalError"
    everything = "\n".join(p.read_text() for p in (pmx_home / "logs" / "pipeline").glob("*.jsonl"))
    assert "s3cret-pw-77" not in everything


def test_without_the_router_the_alert_is_still_written(listener: PortfolioListener, pmx_home: Path) -> None:
    listener.route_alert = None  # alerting off: the composition root gives the listener no route
    for i in range(3):
        _fail(listener, f"t{i}")
    assert listener.flush(10)
    (alert,) = [e for e in listener_events(pmx_home) if e["event"] == "alert"]
    assert alert["routed"] is False


def test_import_errors_alert_once_while_the_file_stays_broken(listener: PortfolioListener,
                                                              pmx_home: Path) -> None:
    trace = "Traceback (most recent call last):\n  File \"/dags/x.py\"\nSyntaxError: invalid syntax"
    listener.on_new_dag_import_error("/dags/x.py", trace)
    for _ in range(5):
        listener.on_existing_dag_import_error("/dags/x.py", trace)
    assert listener.flush(10)
    events = listener_events(pmx_home)
    errors = [e for e in events if e["event"] == "dag_import_error"]
    assert [e["new"] for e in errors] == [True, False, False, False, False, False]
    assert errors[0]["error_type"] == "SyntaxError" and schema_errors(errors[0]) == []
    assert len([e for e in events if e["event"] == "alert"]) == 1


def test_secrets_never_reach_events_metrics_or_alerts(listener: PortfolioListener, pmx_home: Path,
                                                      udp: UdpReceiver, monkeypatch: pytest.MonkeyPatch,
                                                      ) -> None:
    from airflow.sdk._shared.secrets_masker import mask_secret

    conn_password, registered = "conn-pw-Q7x-991122", "api-key-value-ZZ55"
    mask_secret(conn_password)  # what the task SDK does when a task reads a Connection
    monkeypatch.setattr(redaction, "_secrets", frozenset())
    redaction.register_secret(registered)
    for i in range(3):
        error = PermissionError(f"login refused: {conn_password} / {registered} / token={i}abcdef")
        listener.on_task_instance_failed("running", fake_ti(f"t{i}", state="failed", max_tries=0), error)
    assert listener.flush(10)
    everything = "\n".join(p.read_text() for p in (pmx_home / "logs" / "pipeline").glob("*.jsonl"))
    everything += "\n".join(udp.lines()) + Path(Outbox().path).read_bytes().decode("utf-8", "replace")
    for secret in (conn_password, registered, "0abcdef"):
        assert secret not in everything
    failed = [e for e in listener_events(pmx_home) if e["event"] == "task_failed"]
    assert failed[0]["error"] == "login refused: *** / *** / token=***"


def test_a_hook_that_raises_is_swallowed_counted_and_reported_once(listener: PortfolioListener,
                                                                  pmx_home: Path, udp: UdpReceiver) -> None:
    broken = SimpleNamespace(task_id="no-dag-id")  # AttributeError inside the hook
    for _ in range(3):
        assert listener.on_task_instance_success("running", broken) is None
    listener.on_task_instance_success("running", fake_ti(state="success"))
    assert listener.flush(10)
    assert listener.failures.counts == {"hook_error": 3}
    reports = [e for e in listener_events(pmx_home) if e["event"] == "observability_failure"]
    assert len(reports) == 1 and reports[0]["error_type"] == "AttributeError"
    assert schema_errors(reports[0]) == []
    assert [e["event"] for e in listener_events(pmx_home, "pipeline")] == ["task_success"]
    failures = udp.lines("pmx.observability.failure,component=listener,reason=hook_error:1|c")
    assert len(failures) == 3


def test_injected_faults_hit_only_the_named_hooks(listener: PortfolioListener, pmx_home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMX_LISTENER_INJECT_FAULT", "on_task_instance_running")
    listener.on_task_instance_running("queued", fake_ti(state="running"))
    listener.on_task_instance_success("running", fake_ti(state="success"))
    assert listener.flush(10)
    assert [e["event"] for e in listener_events(pmx_home, "pipeline")] == ["task_success"]
    assert listener.failures.counts == {"hook_error": 1}


def test_the_env_switch_makes_every_hook_a_no_op(listener: PortfolioListener, pmx_home: Path,
                                                 udp: UdpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMX_LISTENER_ENABLED", "false")
    _run_a_task_through_every_state(listener)
    assert listener_events(pmx_home) == [] and udp.lines() == []


def test_a_broken_config_makes_the_listener_inert_and_says_so_once(pmx_home: Path, config_copy: Path) -> None:
    broken = "error_monitor:\n  rules:\n    retry_storm: {threshold: 0}\n"
    (config_copy / "observability.yml").write_text(broken)
    listener_config._cache.clear()
    listener = PortfolioListener()
    for _ in range(3):
        listener.on_task_instance_running("queued", fake_ti(state="running"))
    (report,) = [e for e in listener_events(pmx_home) if e["event"] == "observability_failure"]
    assert report["reason"] == "config" and "retry_storm" in report["error"]
    assert listener.failures.counts == {"config": 1}
    listener_config._cache.clear()


def test_a_full_queue_drops_and_counts(listener: PortfolioListener, pmx_home: Path) -> None:
    listener.active()
    listener.writer_queue.maxsize = 0  # nothing fits
    listener.on_task_instance_running("queued", fake_ti(state="running"))
    assert listener.failures.counts == {"queue_full": 1} and listener.writer_queue.dropped == 1


def test_after_a_fork_the_child_reports_its_own_failures(listener: PortfolioListener, pmx_home: Path) -> None:
    listener.on_task_instance_success("running", SimpleNamespace())
    assert listener.failures.counts == {"hook_error": 1}
    listener._after_fork()  # what os.register_at_fork runs in a forked child
    assert listener.failures.total == 0 and listener.writer.written == {} and listener.component is None
    listener.on_task_instance_success("running", SimpleNamespace())
    assert listener.flush(10)
    assert len([e for e in listener_events(pmx_home) if e["event"] == "observability_failure"]) == 2
