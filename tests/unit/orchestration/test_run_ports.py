"""A port the stack needs but something else holds is named, with its setting, before anything starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT
from local_stack.airflow_env import StackLayout
from local_stack.stack import AirflowStack, StackError
from tests.support import free_port


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_make_run_names_the_taken_port_and_starts_nothing(tmp_path: Path, held_port: int) -> None:
    home = tmp_path / "airflow"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PMX_"))}
    env.update({"PMX_AIRFLOW_HOME": str(home), "PMX_HOME": str(tmp_path / "pmx"), "PMX_API_PORT": str(held_port),
                "PMX_LOG_PORT": str(free_port()), "PMX_TRIGGER_LOG_PORT": str(free_port()),
                "PMX_SCHEDULER_HEALTH_PORT": str(free_port())})
    proc = subprocess.run([sys.executable, "-m", "local_stack.run"], cwd=REPO_ROOT, env=env, text=True,
                          capture_output=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert f"127.0.0.1:{held_port} (api-server) is already in use" in proc.stderr
    assert "PMX_API_PORT=<free port>" in proc.stderr
    assert "nothing was started" in proc.stderr
    assert "starting " not in proc.stdout and "migrating" not in proc.stdout
    assert not (home / "components").exists() and not (home / "airflow.db").exists()


def test_every_taken_port_is_listed(tmp_path: Path, held_port: int) -> None:
    layout = StackLayout(home=tmp_path, api_port=free_port(), log_port=held_port, trigger_log_port=held_port,
                         scheduler_health_port=free_port())
    stack = AirflowStack(layout)
    with pytest.raises(StackError) as caught:
        stack.start()
    message = str(caught.value)
    assert f"127.0.0.1:{held_port} (scheduler log server)" in message and "PMX_LOG_PORT" in message
    assert f"127.0.0.1:{held_port} (triggerer log server)" in message and "PMX_TRIGGER_LOG_PORT" in message
    assert "api-server" not in message
    assert stack.procs == {}


def test_a_bad_port_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from local_stack.local import local_layout

    monkeypatch.setenv("PMX_API_PORT", "80a80")
    with pytest.raises(ValueError, match="PMX_API_PORT = '80a80': must be a TCP port number"):
        local_layout()
