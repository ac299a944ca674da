"""Shared fixtures: every test gets its own PMX_HOME so no state leaks between tests or into the checkout.

In-process Airflow (``dag.test()``, DagBag parsing) uses a session-wide AIRFLOW_HOME under the pytest temp
directory, configured from ``config/airflow.yml`` before anything imports ``airflow``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT
from tests.support import postgres_database, postgres_schema, reset_caches

_SESSION_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="pmx-test-airflow-"))


def _point_airflow_at_the_session_home() -> None:
    """Point in-process Airflow at a private home before any test, or any conftest, imports it."""
    from local_stack.airflow_env import StackLayout, stack_environment

    layout = StackLayout(home=_SESSION_AIRFLOW_HOME, pmx_home=_SESSION_AIRFLOW_HOME / "pmx")
    env = stack_environment(layout, base={})
    for key in [k for k in os.environ if k.startswith("AIRFLOW__")]:
        del os.environ[key]  # never test against the developer's own Airflow settings
    os.environ.update({k: v for k, v in env.items() if k.startswith("AIRFLOW")})
    os.environ["PMX_STATSD_ENABLED"] = "false"


# At import, not in pytest_configure: pytest imports the conftest of a directory named on the command line
# (e.g. tests/unit/listeners, which imports Airflow) before it configures; this file is imported first.
_point_airflow_at_the_session_home()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadgroup``: the session stack's tests on one worker, the rest beside them (tests/stack_groups.py)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from tests.stack_groups import StackGroupScheduling

    return StackGroupScheduling(config, log)  # type: ignore[arg-type]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's Airflow home."""
    shutil.rmtree(_SESSION_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_metadata() -> Path:
    """The session's in-process Airflow home with a migrated metadata database (for ``dag.test()``)."""
    marker = _SESSION_AIRFLOW_HOME / ".migrated"
    if not marker.exists():
        airflow = Path(sys.executable).parent / "airflow"
        proc = subprocess.run([str(airflow), "db", "migrate"], env=os.environ.copy(), capture_output=True,
                              text=True, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        marker.touch()
    return _SESSION_AIRFLOW_HOME


@pytest.fixture
def pmx_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated project home: data/, logs/ and the database live under ``tmp_path``."""
    home = tmp_path / "pmx_home"
    home.mkdir()
    monkeypatch.setenv("PMX_HOME", str(home))
    monkeypatch.setenv("PMX_LOG_DIR", str(home / "logs"))
    monkeypatch.setenv("PORTFOLIO_DB_PATH", str(home / "data" / "portfolio_maximizer.db"))
    monkeypatch.setenv("PMX_STATSD_ENABLED", "false")
    for name in ("CRON_TICKERS", "CRON_START_DATE", "CRON_END_DATE", "CRON_EXEC_MODE", "PIPELINE_DEVICE",
                 "ENABLE_GPU_PARALLEL", "ENABLE_PARALLEL_TICKER_PROCESSING", "ENABLE_PARALLEL_FORECASTS",
                 "PMX_ENV", "PMX_CONFIG_DIR", "SYNTHETIC_DATASET_ID", "ALPHA_VANTAGE_API_KEY", "FINNHUB_API_KEY",
                 "PMX_ENV_FILE", "PORTFOLIO_DB_DSN", "PMX_ALERTS_OUTBOX", "PMX_ALERTS_OUTBOX_DSN",
                 "PMX_ERROR_MONITOR_DSN"):
        monkeypatch.delenv(name, raising=False)
    reset_caches()
    yield home
    reset_caches()


@pytest.fixture(scope="session")
def postgres_session_database() -> Iterator[str]:
    """DSN of a throw-away database ``pmx_test_<random>`` on the machine's PostgreSQL for the test session (per
    xdist worker), dropped at its end; skipped locally and failing in CI without a server."""
    with postgres_database("pmx_test") as dsn:
        yield dsn


@pytest.fixture
def postgres_dsn(postgres_session_database: str) -> Iterator[str]:
    """DSN of an empty PostgreSQL schema of its own for one test (dropped after it)."""
    with postgres_schema(postgres_session_database) as dsn:
        yield dsn


@pytest.fixture(params=["sqlite", "postgresql"])
def db_backend(request: pytest.FixtureRequest, pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once on each backend of the portfolio database: SQLite under ``pmx_home``, then an empty
    PostgreSQL schema (``PORTFOLIO_DB_DSN``). Name it before the fixtures that write to the database."""
    if request.param == "postgresql":
        monkeypatch.setenv("PORTFOLIO_DB_DSN", request.getfixturevalue("postgres_dsn"))
    return str(request.param)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_backend(request: pytest.FixtureRequest, pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test on each backend of the add-on's stores: SQLite files under ``pmx_home`` (the default), then
    PostgreSQL (``PMX_ALERTS_OUTBOX_DSN`` and ``PMX_ERROR_MONITOR_DSN`` name one empty schema of its own)."""
    if request.param == "postgresql":
        dsn = request.getfixturevalue("postgres_dsn")
        monkeypatch.setenv("PMX_ALERTS_OUTBOX_DSN", dsn)
        monkeypatch.setenv("PMX_ERROR_MONITOR_DSN", dsn)
    return str(request.param)


@pytest.fixture
def config_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pmx_home: Path) -> Path:
    """A copy of the shipped ``config/`` that ``PMX_CONFIG_DIR`` points at, for tests that break it."""
    target = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", target)
    monkeypatch.setenv("PMX_CONFIG_DIR", str(target))
    return target


@pytest.fixture
def udp_metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A UDP socket on 127.0.0.1 that the project's StatsD client sends to (2 s receive timeout)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    monkeypatch.setenv("PMX_STATSD_ENABLED", "true")
    monkeypatch.setenv("PMX_STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("PMX_STATSD_PORT", str(sock.getsockname()[1]))
    yield sock
    sock.close()
    from foundation import metrics

    if metrics._client is not None:  # the client bound to this socket's port
        metrics._client.close()
