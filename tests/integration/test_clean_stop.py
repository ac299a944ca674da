"""``make up`` (``python -m local_stack.run --keep-running``) stops cleanly on SIGTERM and SIGHUP.

The real entrypoint in its own home and on its own ports (what is under test is the process that owns the
stack, so the session's ``airflow_stack`` cannot stand in for it): once it runs, the signal must leave no
component process behind and every port free.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from foundation.paths import REPO_ROOT
from local_stack.stack import port_in_use
from tests.integration.stack_support import copy_test_config
from tests.support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]  # see tests/wait_budget.py

PORTS = ("PMX_API_PORT", "PMX_LOG_PORT", "PMX_TRIGGER_LOG_PORT", "PMX_SCHEDULER_HEALTH_PORT")


def _env(root: Path) -> dict[str, str]:
    config = copy_test_config(root / "config")
    pipeline = yaml.safe_load((config / "pipeline.yml").read_text())
    pipeline["tickers"]["default"] = ["AAPL"]  # one small master run: the stop is what is under test
    pipeline["dates"]["default_start"] = "2024-01-02"
    (config / "pipeline.yml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    # The catch-up run of the master's latest slot must already be past its deadline, whatever the hour: with the
    # shipped 09:25 that holds only outside 05:00-09:25 New York on weekdays (the run is then on time, and no
    # deadline callback comes). One minute after the 05:00 slot it holds except in that one minute.
    slas = yaml.safe_load((config / "slas.yml").read_text())
    slas["slas"]["portfolio_master_premarket"]["at"] = "05:01"
    (config / "slas.yml").write_text(yaml.safe_dump(slas, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PMX_", "CRON_"))}
    env.update({"PMX_AIRFLOW_HOME": str(root / "airflow"), "PMX_HOME": str(root / "pmx"),
                "PMX_LOG_DIR": str(root / "pmx" / "logs"), "PMX_CONFIG_DIR": str(config),
                "PORTFOLIO_DB_PATH": str(root / "pmx" / "data" / "portfolio_maximizer.db"),
                "PMX_STATSD_PORT": str(free_port()), **{name: str(free_port()) for name in PORTS}})
    return env


def _stack_pids(home: Path) -> set[int]:
    """Live processes whose environment names this stack's AIRFLOW_HOME (every component and task)."""
    marker = f"AIRFLOW_HOME={home}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.add(int(entry.name))
    return found


class Run:
    """``local_stack.run --keep-running`` with its output collected line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "local_stack.run", "--keep-running"], cwd=REPO_ROOT,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.seen:
                self.lines.append(line.rstrip())
                self.seen.notify_all()
        with self.seen:
            self.seen.notify_all()

    def wait_for(self, text: str, timeout: float) -> None:
        with self.seen:
            found = self.seen.wait_for(lambda: any(text in line for line in self.lines)
                                       or self.proc.poll() is not None, timeout)
        assert found and any(text in line for line in self.lines), "\n".join(self.lines[-60:])


def _first_start_was_quiet(run: Run, env: dict[str, str], home: Path) -> None:
    """``make up`` on a fresh install: its summary is of its own run, and the catch-up run is not paged."""
    from alerts.outbox import Outbox
    from local_stack.api_client import AirflowApi
    from tests.support import wait_for

    (run_line,) = [line for line in run.lines if line.startswith("run: ")]
    (report_line,) = [line for line in run.lines if line.startswith("report: ")]
    assert "manual__" in run_line and "state=success" in run_line
    assert report_line.endswith("(agrees on state, trades and equity)"), report_line
    assert any("schedules on: portfolio_master" in line for line in run.lines)

    api = AirflowApi(f"http://127.0.0.1:{env['PMX_API_PORT']}",
                     passwords_file=home / "simple_auth_manager_passwords.json.generated")

    def by_type() -> dict[str, Any] | None:
        runs = {r["run_type"]: r for r in api.dag_runs("portfolio_master")}
        return runs if "scheduled" in runs else None

    runs = wait_for(by_type, 240, "the catch-up run of portfolio_master's latest past slot")  # wait-budget: 240
    assert runs["scheduled"]["queued_at"] > runs["manual"]["end_date"], "the catch-up run came after ours"
    logs = Path(env["PMX_LOG_DIR"])

    def not_paged_logged() -> bool:
        return any('"sla_catch_up_not_paged"' in p.read_text(errors="replace") for p in logs.rglob("*.jsonl"))

    wait_for(not_paged_logged, 240, "the catch-up run's deadline callback")  # wait-budget: 240
    outbox = Outbox(Path(env["PMX_HOME"]) / "data" / "alerts" / "outbox.sqlite")
    with outbox.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM incidents WHERE kind = 'sla_miss'").fetchone()[0] == 0


@pytest.fixture
def kept_running(tmp_path: Path) -> Iterator[tuple[Run, dict[str, str]]]:
    env = _env(tmp_path)
    run = Run(env)
    yield run, env
    if run.proc.poll() is None:  # a failed test must not leave its stack behind either
        run.proc.send_signal(signal.SIGINT)
        run.proc.wait(120)


@pytest.mark.parametrize(("sig", "after"), [
    (signal.SIGTERM, "stack keeps running"),  # a kept-running stack, as systemd or a container runtime stops it
    (signal.SIGHUP, "triggered portfolio_master"),  # a closed terminal, while the first run is still going
], ids=["sigterm-kept-running", "sighup-during-the-run"])
def test_signal_stops_every_component(kept_running: tuple[Run, dict[str, str]], sig: signal.Signals,
                                      after: str) -> None:
    run, env = kept_running
    home = Path(env["PMX_AIRFLOW_HOME"]).resolve()
    run.wait_for(after, timeout=480)
    before = _stack_pids(home)
    assert len(before) >= 5, "api-server, scheduler, dag-processor, triggerer and alerts-worker were running"

    if sig == signal.SIGTERM:
        _first_start_was_quiet(run, env, home)

    run.proc.send_signal(sig)
    assert run.proc.wait(150) == 128 + sig
    run.wait_for(f"{sig.name} received: stopping the stack", timeout=5)

    left = _stack_pids(home)
    for _ in range(100):  # SIGKILLed group members vanish a moment after the group leader was reaped
        if not left:
            break
        time.sleep(0.1)
        left = _stack_pids(home)
    assert left == set(), "no component (nor any child of one) outlives the stop"
    busy = [name for name in PORTS if port_in_use(int(env[name]))]
    assert busy == [], "every port of the stack is free again"
