"""A broken trading config (``pipeline.yml``) never silences the listener: every hook still writes its event."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.config_loader import ConfigError
from listeners.emit import EventWriter, FailureCounter
from listeners.hooks import PortfolioListener
from listeners.schema import schema_errors
from portfolio.settings import load_settings
from tests.unit.listeners._support import fake_run, fake_ti, listener_events


class TaskRunnerMarker:
    """Same class name as the task SDK's marker."""


@pytest.fixture
def broken_trading_config(config_copy: Path) -> Path:
    """``broker.max_position_fraction: 1.5`` in the config copy: every domain task fails to load its settings."""
    path = config_copy / "pipeline.yml"
    text = path.read_text()
    assert "  max_position_fraction: 0.10\n" in text
    path.write_text(text.replace("  max_position_fraction: 0.10\n", "  max_position_fraction: 1.5\n"))
    with pytest.raises(ConfigError, match=r"broker\.max_position_fraction = 1\.5"):
        load_settings(fresh=True)
    return config_copy


def test_the_event_writer_needs_no_trading_config(broken_trading_config: Path, pmx_home: Path) -> None:
    failures = FailureCounter()
    writer = EventWriter(failures)
    assert writer.write({"event": "task_running", "level": "info", "stream": "pipeline"}) == ["pipeline"]
    assert failures.total == 0


def test_every_hook_still_writes_its_event(broken_trading_config: Path, listener: PortfolioListener,
                                           pmx_home: Path) -> None:
    runner = TaskRunnerMarker()
    listener.on_starting(runner)
    listener.on_dag_run_running(fake_run("running"), "started")
    listener.on_task_instance_running("queued", fake_ti("ok", state="running"))
    listener.on_task_instance_success("running", fake_ti("ok", state="success"))
    listener.on_task_instance_failed("running", fake_ti("flaky", state="up_for_retry"), RuntimeError("try 1"))
    listener.on_task_instance_failed("running", fake_ti("broken", state="failed", max_tries=0),
                                     ConfigError("pipeline.yml", "broker.max_position_fraction", 1.5, "<= 1"))
    listener.on_task_instance_skipped("running", fake_ti("skipper", state="skipped", end=False))
    listener.on_dag_run_success(fake_run("success", run_id="manual__2"), "success")
    listener.on_dag_run_failed(fake_run("failed"), "task_failure")
    listener.on_new_dag_import_error("/dags/bad.py", "Traceback: SyntaxError")
    listener.on_existing_dag_import_error("/dags/bad.py", "Traceback: SyntaxError")
    listener.before_stopping(runner)
    assert listener.flush(10)
    names = [e["event"] for e in listener_events(pmx_home)]
    for expected in ("component_starting", "dag_run_running", "task_running", "task_success", "task_up_for_retry",
                     "task_failed", "task_skipped", "dag_run_success", "dag_run_failed", "dag_import_error",
                     "component_stopping"):
        assert expected in names, f"{expected} missing from {names}"
    assert names.count("dag_import_error") == 2
    assert {e["event"]: schema_errors(e) for e in listener_events(pmx_home) if schema_errors(e)} == {}
    assert listener.failures.total == 0, dict(listener.failures.counts)
    failed = next(e for e in listener_events(pmx_home) if e["event"] == "task_failed")
    assert "broker.max_position_fraction" in failed["error"]
    (invalid,) = [e for e in listener_events(pmx_home, "events") if e["event"] == "config_invalid"]
    assert (invalid["task_id"], invalid["file"], invalid["key"], invalid["value"]) == (
        "broken", "pipeline.yml", "broker.max_position_fraction", "1.5")
    assert invalid["level"] == "error" and invalid["problem"] == "<= 1"


def test_a_secret_config_value_is_masked(listener: PortfolioListener, pmx_home: Path) -> None:
    error = ConfigError("pipeline.yml", "data_sources.api_key", "sk-live-0123456789", "too short")
    listener.on_task_instance_failed("running", fake_ti("broken", state="failed", max_tries=0), error)
    assert listener.flush(10)
    (invalid,) = [e for e in listener_events(pmx_home, "events") if e["event"] == "config_invalid"]
    assert invalid["value"] == "***" and not schema_errors(invalid)


OBSERVER_CODE = ["listeners", "alerts", "monitoring/statsd_bridge", "foundation/pipeline_logger.py",
                 "foundation/event_log_config.py"]


def test_no_observability_module_reads_the_trading_config() -> None:
    """The listener, alert router, StatsD bridge and event log never import ``portfolio.settings``."""
    import ast

    from foundation.paths import REPO_ROOT

    files = [p for entry in OBSERVER_CODE for p in ((REPO_ROOT / entry).rglob("*.py")
                                                    if (REPO_ROOT / entry).is_dir() else [REPO_ROOT / entry])]
    assert len(files) > 20
    offenders = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "portfolio.settings" or n.startswith("portfolio.settings.") for n in names):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert offenders == []
