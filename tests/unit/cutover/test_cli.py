"""The command line: outputs and exit codes (0 fine, 1 unexpected difference / failed DAG call, 2 bad input)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT
from local_stack.cutover.cli import PASSWORD_VARIABLE, main
from tests.unit.cutover._airflow_stub import AirflowStub, airflow_stub

CRONTAB = REPO_ROOT / "deploy" / "cron" / "production.crontab"
START = "2026-12-07T00:00Z"


@pytest.fixture
def crontab(tmp_path: Path) -> Path:
    return Path(shutil.copy(CRONTAB, tmp_path / "production.crontab"))


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[AirflowStub]:
    monkeypatch.setenv(PASSWORD_VARIABLE, "pw")
    with airflow_stub() as srv:
        yield srv


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_parity_in_new_york_passes_and_strict_fails_on_the_dst_difference(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "parity", "--crontab", str(CRONTAB), "--cron-tz", "America/New_York",
                        "--start", START)
    assert code == 0
    assert "cron zone for lines without CRON_TZ=/TZ=: America/New_York (--cron-tz)" in out
    assert "11 jobs: 10 equal, 1 with expected DST differences, 0 differing, 0 not mappable" in out
    assert "2027-03-14T07:00Z cron only  [expected] cron skips 02:05" in out
    code, _, _ = _run(capsys, "parity", "--crontab", str(CRONTAB), "--cron-tz", "America/New_York",
                      "--start", START, "--strict", "--jobs", "nightly_backfill")
    assert code == 1


def test_parity_defaults_to_the_machine_zone_and_says_so(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    code, out, _ = _run(capsys, "parity", "--crontab", str(CRONTAB), "--start", START, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["cron_zone"] == {"name": "UTC", "source": "this machine's zone, from the TZ environment "
                                                            "variable; --cron-tz to change"}
    results = {job["job"]: job["result"] for job in report["jobs"]}
    assert results.pop("monitoring") == "equal" and set(results.values()) == {"differs"}
    etl = next(job for job in report["jobs"] if job["job"] == "daily_etl")
    assert etl["comparisons"][0]["differences"][0] == {
        "at": "2026-12-07T05:15Z", "side": "cron", "expected": False,
        "reason": "cron in UTC does not follow America/New_York DST: here cron is UTC+00:00, the DAG UTC-05:00"}


def test_an_unparsable_line_names_file_line_and_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.crontab"
    bad.write_text("# ok\n0 25 * * * /x/production_cron.sh daily_etl\n")
    code, _, err = _run(capsys, "parity", "--crontab", str(bad))
    assert code == 2
    assert f"error: {bad}, line 2: hour: 25 is outside 0-23: '0 25 * * * /x/production_cron.sh daily_etl'" in err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], crontab: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["migrate", "--crontab", str(crontab), "--jobs", "nope"])
    assert info.value.code == 2
    assert _run(capsys, "parity", "--crontab", str(crontab), "--cron-tz", "Mars/Base")[0] == 2
    assert _run(capsys, "show", "--crontab", str(crontab.with_name("missing")))[0] == 2


def test_show_lists_jobs_and_dags(capsys: pytest.CaptureFixture[str], crontab: Path) -> None:
    code, out, _ = _run(capsys, "show", "--crontab", str(crontab), "--json")
    assert code == 0
    entries = json.loads(out)["entries"]
    assert len(entries) == 11 and all(e["job"] == e["dag_id"] and e["active"] for e in entries)


def test_migrate_status_rollback_round_trip(capsys: pytest.CaptureFixture[str], crontab: Path, tmp_path: Path,
                                            server: AirflowStub) -> None:
    state = ["--state", str(tmp_path / "cutover" / "state.json")]
    api = ["--api-url", server.url]
    code, out, _ = _run(capsys, "parallel", "--jobs", "monitoring", "--crontab", str(crontab), "--unpause",
                        *state, *api)
    assert code == 0 and "monitoring: parallel" in out
    code, out, _ = _run(capsys, "migrate", "--crontab", str(crontab), "--jobs", "sanitize_caches,monitoring",
                        *state)
    assert code == 0 and "original saved as" in out
    code, out, _ = _run(capsys, "status", "--crontab", str(crontab), "--json", *state)
    assert code == 0
    rows = {row["job"]: row for row in json.loads(out)["jobs"]}
    assert rows["monitoring"]["status"] == rows["sanitize_caches"]["status"] == "airflow only"
    assert rows["monitoring"]["crontab"] == "line 30 migrated" and rows["daily_etl"]["status"] == "cron only"
    code, out, _ = _run(capsys, "rollback", "--crontab", str(crontab), *state, *api)
    assert code == 0 and "restored byte for byte" in out
    assert crontab.read_bytes() == CRONTAB.read_bytes()
    assert server.patches == [("monitoring", {"is_paused": False}), ("monitoring", {"is_paused": True}),
                              ("sanitize_caches", {"is_paused": True})]
    code, out, _ = _run(capsys, "status", *state)
    assert code == 0 and "airflow only" not in out


def test_status_flags_a_crontab_that_disagrees_and_rollback_exits_1_on_a_failed_pause(
        capsys: pytest.CaptureFixture[str], crontab: Path, tmp_path: Path, server: AirflowStub) -> None:
    state = ["--state", str(tmp_path / "state.json")]
    assert _run(capsys, "migrate", "--crontab", str(crontab), "--jobs", "daily_etl", *state)[0] == 0
    crontab.write_bytes(CRONTAB.read_bytes())  # someone put the line back by hand
    code, out, _ = _run(capsys, "status", "--crontab", str(crontab), *state)
    assert code == 1 and "<- the crontab disagrees with the state" in out
    server.failing = {"daily_etl"}
    code, out, err = _run(capsys, "rollback", "--crontab", str(crontab), "--jobs", "daily_etl", *state,
                          "--api-url", server.url)
    assert code == 1 and "could not pause DAG daily_etl" in err and "daily_etl: parallel" in out


def test_migrate_dry_run_prints_the_crontab(capsys: pytest.CaptureFixture[str], crontab: Path,
                                            tmp_path: Path) -> None:
    code, out, _ = _run(capsys, "migrate", "--crontab", str(crontab), "--jobs", "daily_etl", "--dry-run",
                        "--state", str(tmp_path / "s.json"))
    assert code == 0
    assert "# migrated-to-airflow:daily_etl 15   5    *   *   1-5  /opt/portfolio_maximizer" in out
    assert crontab.read_bytes() == CRONTAB.read_bytes() and not (tmp_path / "s.json").exists()
