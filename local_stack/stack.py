"""Start, watch and stop a local Airflow stack: api-server, scheduler, dag-processor and triggerer.

Plus the project's own long-running processes (``PYTHON_COMPONENTS``: the alert outbox worker).

Used by ``make run`` / ``make up`` and by the integration tests (one stack per test session, on its own
ports and home). Every component writes to ``<home>/components/<name>.log``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from local_stack.airflow_env import StackLayout, stack_environment, write_env_file
from local_stack.api_client import AirflowApi

COMPONENTS: dict[str, list[str]] = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
    "celery-worker": ["celery", "worker"],  # only with CeleryExecutor (the production scale path)
}
# ``<component>@<instance>`` starts one more process of a component (``celery-worker@a``, ``celery-worker@b``): its
# own log, and its own environment and arguments through ``component_env`` / ``component_args``.
INSTANCE = "@"
# Project processes started with the venv's Python next to the Airflow components (not ``airflow <args>``).
# alerts-worker delivers SLA/incident alerts from the durable outbox (docs/slas.md#delivery-worker).
PYTHON_COMPONENTS: dict[str, list[str]] = {
    "alerts-worker": ["-m", "alerts.outbox_worker"],
}
# What ``make run`` and the test session start: LocalExecutor runs tasks inside the scheduler.
DEFAULT_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "alerts-worker")
# The 127.0.0.1 TCP ports the components bind: layout field -> (who binds it, the setting that moves it for
# ``make run`` / ``make up``; local_stack/local.py reads them).
BOUND_PORTS: dict[str, tuple[str, str, str]] = {
    "api_port": ("api-server", "api-server", "PMX_API_PORT"),
    "log_port": ("scheduler", "scheduler log server", "PMX_LOG_PORT"),
    "scheduler_health_port": ("scheduler", "scheduler health check", "PMX_SCHEDULER_HEALTH_PORT"),
    "trigger_log_port": ("triggerer", "triggerer log server", "PMX_TRIGGER_LOG_PORT"),
}
HEALTH_KEYS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}


class StackError(RuntimeError):
    """The stack could not start or became unhealthy; the message points at the component log."""


def airflow_cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``airflow <args>`` with the stack environment; raise with its output on failure."""
    cmd = [str(Path(sys.executable).parent / "airflow"), *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        output = f"{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
        raise StackError(f"airflow {' '.join(args)} failed ({proc.returncode}):\n{output}")
    return proc


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on ``host:port`` (connections in TIME_WAIT do not count).

    ``SO_REUSEADDR`` as the api-server (uvicorn) and the log servers set it: a port whose last server just
    stopped is free for them, only a live listener blocks it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


class AirflowStack:
    """One local Airflow deployment made of separately started components."""

    def __init__(self, layout: StackLayout, components: tuple[str, ...] = DEFAULT_COMPONENTS,
                 extra_env: dict[str, str] | None = None, say: Callable[[str], None] | None = None, *,
                 component_env: dict[str, dict[str, str]] | None = None,
                 component_args: dict[str, list[str]] | None = None) -> None:
        self.layout = layout
        self.components = components
        self.env = stack_environment(layout)
        self.env.update(extra_env or {})
        self.component_env = component_env or {}    # per component: overrides of ``env`` (its own home...)
        self.component_args = component_args or {}  # per component: extra command-line arguments
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.say = say or (lambda _msg: None)
        self.log_dir = layout.home / "components"
        self._api: AirflowApi | None = None

    @property
    def api(self) -> AirflowApi:
        """Authenticated REST client for this stack."""
        if self._api is None:
            self._api = AirflowApi(self.layout.api_url,
                                   passwords_file=self.layout.home / "simple_auth_manager_passwords.json.generated")
        return self._api

    def migrate(self) -> None:
        """Create or upgrade the metadata database (skipped when a SQLite database is already at the revision the
        installed Airflow last migrated it to: ``airflow db migrate`` then does nothing, in about 4 s)."""
        self.layout.home.mkdir(parents=True, exist_ok=True)
        write_env_file(self.layout)
        stamp = self.layout.home / "migrated.stamp"
        if stamp.exists() and stamp.read_text(encoding="utf-8") == self._schema_stamp():
            self.say("Airflow metadata database already migrated")
            return
        self.say("migrating the Airflow metadata database")
        airflow_cli(self.env, "db", "migrate")
        current = self._schema_stamp()
        if current:
            stamp.write_text(current, encoding="utf-8")
        else:
            stamp.unlink(missing_ok=True)

    def _schema_stamp(self) -> str:
        """``<installed Airflow version> <alembic revision>`` of a SQLite metadata database; ``""`` otherwise."""
        import sqlite3
        from importlib.metadata import version

        url = self.env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
        path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
        if path is None or not path.exists():
            return ""
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            return ""
        return f"{version('apache-airflow')} {row[0]}" if row else ""

    def start_component(self, name: str) -> None:
        """Start one component in its own process group, logging to ``components/<name>.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        base = name.split(INSTANCE, 1)[0]
        if base in PYTHON_COMPONENTS:
            cmd = [sys.executable, *PYTHON_COMPONENTS[base]]
        else:
            cmd = [str(Path(sys.executable).parent / "airflow"), *COMPONENTS[base]]
        cmd += self.component_args.get(name, [])
        self.procs[name] = subprocess.Popen(cmd, env=self.component_environment(name), stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        log.close()

    def component_environment(self, name: str) -> dict[str, str]:
        """The environment ``name`` runs with: the stack's, plus its own overrides."""
        return {**self.env, **self.component_env.get(name, {})}

    def check_ports(self) -> None:
        """Raise, naming each taken port and the setting that moves it, before anything is started."""
        taken = []
        for field_name, (component, what, setting) in BOUND_PORTS.items():
            port = int(getattr(self.layout, field_name))
            if component in self.components and port_in_use(port):
                taken.append(f"127.0.0.1:{port} ({what}) is already in use: stop what holds it "
                             f"(`ss -ltnp 'sport = :{port}'` shows it) or move it with {setting}=<free port>")
        if taken:
            raise StackError("cannot start the stack, nothing was started:\n  " + "\n  ".join(taken))

    def start(self, timeout: float = 180) -> None:
        """Check the ports, start every component and wait until the api-server reports them healthy."""
        self.check_ports()
        for name in self.components:
            self.say(f"starting {name}")
            self.start_component(name)
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 180) -> dict[str, object]:
        """Block until the api-server answers and every started component is healthy."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        warmed = False
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                last = self.api.health()
            except (requests.RequestException, ValueError):
                time.sleep(0.5)
                continue
            if not warmed:  # while the other components still start
                self.api.warm_execution_api()
                warmed = True
            wanted = [HEALTH_KEYS[c] for c in self.components if c in HEALTH_KEYS]
            if all((last.get(k) or {}).get("status") == "healthy" for k in wanted):
                return last
            time.sleep(0.5)
        raise StackError(f"stack not healthy after {timeout:.0f}s: {last}; logs in {self.log_dir}")

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = self.log_tail(name)
                raise StackError(f"{name} exited with {proc.returncode}; last log lines:\n{tail}")

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The last lines of a component's log."""
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop_component(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Stop one component and everything in its process group; ``SIGKILL`` simulates a crash."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            except ProcessLookupError:
                pass
        # What the component leaves in its group goes too: LocalExecutor workers forked from the forkserver
        # ignore SIGTERM and would outlive the scheduler (about 230 MB each).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def restart_component(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Stop (or kill) a component and start it again."""
        self.stop_component(name, sig)
        self.start_component(name)

    def stop(self) -> None:
        """Stop every component, api-server last."""
        for name in sorted(self.procs, key=lambda n: n == "api-server"):
            self.say(f"stopping {name}")
            self.stop_component(name)
