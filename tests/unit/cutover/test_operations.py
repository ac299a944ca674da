"""migrate / parallel / rollback on a real crontab file, the state transitions, and the DAG calls over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.api_client import AirflowApi
from local_stack.cutover.crontab import CrontabError, read_crontab
from local_stack.cutover.operations import migrate, parallel, rollback
from local_stack.cutover.state import AIRFLOW_ONLY, CRON_ONLY, PARALLEL, CutoverState, StateError
from tests.unit.cutover._airflow_stub import AirflowStub, airflow_stub

CMD = "/opt/pm/bash/production_cron.sh"
# odd on purpose: CRLF and tab-separated lines, trailing blanks, blank lines at the end, no final newline
ORIGINAL = (
    "# production crontab\r\n"
    "CRON_TICKERS=AAPL,MSFT\n"
    f"0 5 * * 1-5 {CMD} env_sanity >> logs/cron/env_sanity.log 2>&1   \n"
    f"15\t5\t*\t*\t1-5\t{CMD} daily_etl >> logs/cron/daily_etl.log 2>&1\r\n"
    f"  5 * * * * {CMD} monitoring\n"
    f"5 * * * * {CMD} monitoring --second-line\n"
    "@daily /usr/bin/logrotate /etc/logrotate.conf\n"
    "\n"
    "\n"
    "   "
).encode()


@pytest.fixture
def crontab(tmp_path: Path) -> Path:
    path = tmp_path / "production.crontab"
    path.write_bytes(ORIGINAL)
    path.chmod(0o640)
    return path


@pytest.fixture
def state(tmp_path: Path) -> CutoverState:
    return CutoverState.load(tmp_path / "state" / "state.json")


@pytest.fixture
def server() -> Iterator[AirflowStub]:
    with airflow_stub() as srv:
        yield srv


def _api(server: AirflowStub) -> AirflowApi:
    return AirflowApi(server.url, password="pw", timeout=5)


def test_migrate_comments_the_jobs_lines_and_saves_the_original(crontab: Path, state: CutoverState) -> None:
    outcome = migrate(crontab, ["daily_etl", "monitoring"], state)
    assert outcome.ok
    lines = crontab.read_bytes().split(b"\n")
    assert lines[3] == f"# migrated-to-airflow:daily_etl 15\t5\t*\t*\t1-5\t{CMD} daily_etl >> logs/cron/daily_etl" \
                       ".log 2>&1\r".encode()
    assert lines[4].startswith(b"# migrated-to-airflow:monitoring   5 * * * *")
    assert lines[5].startswith(b"# migrated-to-airflow:monitoring 5 * * * *")
    assert lines[2] == ORIGINAL.split(b"\n")[2]  # env_sanity untouched
    assert crontab.stat().st_mode & 0o777 == 0o640
    active = {e.job for e in read_crontab(crontab).entries if e.active}
    assert active == {"env_sanity", None}
    saved = list((state.directory / "originals").iterdir())
    assert len(saved) == 1 and saved[0].read_bytes() == ORIGINAL
    reloaded = CutoverState.load(state.path)
    assert reloaded.status("daily_etl") == AIRFLOW_ONLY and reloaded.status("env_sanity") == CRON_ONLY


def test_a_second_migration_keeps_the_first_original(crontab: Path, state: CutoverState) -> None:
    migrate(crontab, ["daily_etl"], state)
    migrate(crontab, ["env_sanity"], state)
    assert state.original(crontab) == ORIGINAL
    again = migrate(crontab, ["env_sanity"], state)
    assert again.messages == [f"env_sanity: already migrated in {crontab}"]


def test_dry_run_changes_nothing(crontab: Path, state: CutoverState) -> None:
    outcome = migrate(crontab, ["monitoring"], state, dry_run=True)
    assert outcome.crontab is not None and outcome.crontab.count(b"# migrated-to-airflow:monitoring ") == 2
    assert crontab.read_bytes() == ORIGINAL
    assert not state.path.exists()


def test_migrating_a_job_without_a_line_changes_nothing(crontab: Path, state: CutoverState) -> None:
    with pytest.raises(CrontabError, match=r"no line runs production_cron\.sh transaction_costs"):
        migrate(crontab, ["daily_etl", "transaction_costs"], state)
    assert crontab.read_bytes() == ORIGINAL
    assert state.status("daily_etl") == CRON_ONLY


def test_full_rollback_restores_the_original_byte_for_byte_and_pauses_the_dags(
        crontab: Path, state: CutoverState, server: AirflowStub) -> None:
    migrate(crontab, ["daily_etl", "monitoring"], state)
    outcome = rollback(crontab, None, state, _api(server))
    assert outcome.ok, outcome.failures
    assert crontab.read_bytes() == ORIGINAL
    assert server.patches == [("daily_etl", {"is_paused": True}), ("monitoring", {"is_paused": True})]
    assert server.logins == [{"username": "admin", "password": "pw"}]
    assert {job: state.status(job) for job in ("daily_etl", "monitoring")} == {
        "daily_etl": CRON_ONLY, "monitoring": CRON_ONLY}
    backups = list((state.directory / "backups").iterdir())
    assert len(backups) == 1 and b"# migrated-to-airflow:" in backups[0].read_bytes()
    history = CutoverState.load(state.path).jobs["monitoring"]["history"]
    assert [(h["from"], h["to"]) for h in history] == [(CRON_ONLY, AIRFLOW_ONLY), (AIRFLOW_ONLY, CRON_ONLY)]


def test_rollback_of_some_jobs_takes_only_their_markers_off(crontab: Path, state: CutoverState,
                                                            server: AirflowStub) -> None:
    migrate(crontab, ["daily_etl", "monitoring"], state)
    first = rollback(crontab, ["monitoring"], state, _api(server))
    assert "still migrated in" in first.messages[-3]
    assert [e.job for e in read_crontab(crontab).entries if not e.active] == ["daily_etl"]
    assert server.patches == [("monitoring", {"is_paused": True})]
    second = rollback(crontab, ["daily_etl"], state, _api(server))
    assert crontab.read_bytes() == ORIGINAL
    assert any("byte for byte the original again" in m for m in second.messages)
    assert state.status("daily_etl") == CRON_ONLY


def test_a_dag_that_cannot_be_paused_leaves_its_job_parallel(crontab: Path, state: CutoverState,
                                                             server: AirflowStub) -> None:
    migrate(crontab, ["daily_etl", "monitoring"], state)
    server.failing = {"monitoring"}
    outcome = rollback(crontab, None, state, _api(server))
    assert not outcome.ok
    assert "monitoring: could not pause DAG monitoring" in outcome.failures[0] and "404" in outcome.failures[0]
    assert crontab.read_bytes() == ORIGINAL  # cron has the job back either way
    assert (state.status("daily_etl"), state.status("monitoring")) == (CRON_ONLY, PARALLEL)


def test_rollback_without_a_saved_original_asks_for_jobs(crontab: Path, state: CutoverState,
                                                         server: AirflowStub) -> None:
    with pytest.raises(StateError, match="no saved original"):
        rollback(crontab, None, state, _api(server))
    assert server.patches == []


def test_parallel_then_migrate_with_unpause(crontab: Path, state: CutoverState, server: AirflowStub) -> None:
    parallel(["env_sanity"], state, crontab=crontab, api=_api(server))
    assert state.status("env_sanity") == PARALLEL
    assert server.patches == [("env_sanity", {"is_paused": False})]
    migrate(crontab, ["env_sanity"], state, api=_api(server))
    assert state.status("env_sanity") == AIRFLOW_ONLY
    assert server.patches[-1] == ("env_sanity", {"is_paused": False})
    with pytest.raises(CrontabError, match="env_sanity is commented out"):
        parallel(["env_sanity"], state, crontab=crontab)


def test_migrate_keeps_a_job_in_cron_when_its_dag_cannot_be_unpaused(crontab: Path, state: CutoverState,
                                                                      server: AirflowStub) -> None:
    server.failing = {"daily_etl"}
    outcome = migrate(crontab, ["daily_etl", "env_sanity"], state, api=_api(server))
    assert not outcome.ok
    assert [e.job for e in read_crontab(crontab).entries if not e.active] == ["env_sanity"]
    assert (state.status("daily_etl"), state.status("env_sanity")) == (CRON_ONLY, AIRFLOW_ONLY)


def test_a_tampered_original_is_refused(crontab: Path, state: CutoverState, server: AirflowStub) -> None:
    migrate(crontab, ["daily_etl"], state)
    next((state.directory / "originals").iterdir()).write_bytes(b"something else\n")
    with pytest.raises(StateError, match="no longer matches its SHA-256"):
        rollback(crontab, None, state, _api(server))
