"""Parity of the shipped crontab with the real DAGs' timetables, and the DST differences the guide expects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from foundation.paths import REPO_ROOT
from local_stack.cutover.crontab import parse_crontab, read_crontab
from local_stack.cutover.mapping import JOB_TO_DAG
from local_stack.cutover.parity import (
    DIFFERS,
    EQUAL,
    EXPECTED,
    NOT_MAPPABLE,
    ZoneChoice,
    crontab_parity,
    job_parity,
    unexpected,
)
from local_stack.cutover.timetables import DagSchedule, dag_fires, load_schedules, schedule_of

NY = "America/New_York"
START = datetime(2026, 12, 7, tzinfo=UTC)
CRONTAB = REPO_ROOT / "deploy" / "cron" / "production.crontab"


@pytest.fixture(scope="module")
def schedules() -> dict[str, DagSchedule]:
    return load_schedules(sorted(JOB_TO_DAG))


def _by_job(zone: str, schedules: dict[str, DagSchedule]) -> dict[str, object]:
    results = crontab_parity(read_crontab(CRONTAB), schedules, ZoneChoice(zone, "test"), START)
    return {r.job: r for r in results}


def test_the_real_timetables_are_cron_triggers_in_new_york(schedules: dict[str, DagSchedule]) -> None:
    for dag_id, schedule in schedules.items():
        assert schedule.zone == NY, dag_id
        assert schedule.expression is not None
    assert schedules["sanitize_caches"].expression == "30 3 * * *"


def test_cron_in_new_york_matches_every_dag_but_nightly_backfill_on_the_spring_forward_day(
        schedules: dict[str, DagSchedule]) -> None:
    results = _by_job(NY, schedules)
    assert sorted(results) == sorted(JOB_TO_DAG)
    assert {job: r.result for job, r in results.items()} == {
        job: (EXPECTED if job == "nightly_backfill" else EQUAL) for job in JOB_TO_DAG}
    for r in results.values():
        labels = [c.label for c in r.comparisons]
        assert labels == ["next 20", f"spring-forward {NY} 2027-03-14T07:00Z", f"fall-back {NY} 2027-11-07T06:00Z"]
        assert len(r.comparisons[0].cron) == 20
    spring = results["nightly_backfill"].comparisons[1]
    assert [(d.at, d.side, d.expected) for d in spring.differences] == [
        (datetime(2027, 3, 14, 7, 0, tzinfo=UTC), "cron", True),
        (datetime(2027, 3, 14, 7, 5, tzinfo=UTC), "dag", True)]
    assert "cron skips 02:05" in spring.differences[0].reason
    assert "runs it at 03:05 EDT" in spring.differences[1].reason
    assert unexpected(list(results.values())) == []
    assert [r.job for r in unexpected(list(results.values()), strict=True)] == ["nightly_backfill"]


def test_cron_in_utc_differs_everywhere_but_for_the_hourly_monitoring(schedules: dict[str, DagSchedule]) -> None:
    results = _by_job("UTC", schedules)
    assert {job for job, r in results.items() if r.result == EQUAL} == {"monitoring"}
    daily_etl = results["daily_etl"]
    assert daily_etl.result == DIFFERS
    first = daily_etl.comparisons[0].differences[:2]
    assert [(d.at, d.side) for d in first] == [(datetime(2026, 12, 7, 5, 15, tzinfo=UTC), "cron"),
                                               (datetime(2026, 12, 7, 10, 15, tzinfo=UTC), "dag")]
    assert all(not d.expected and "cron in UTC does not follow America/New_York DST" in d.reason
               for c in daily_etl.comparisons for d in c.differences)


def test_the_dag_side_is_what_the_timetable_gives(schedules: dict[str, DagSchedule]) -> None:
    fires = dag_fires(schedules["auto_trader"], datetime(2026, 12, 12, 1, 0, tzinfo=UTC))  # Fri 20:00 New York
    assert [next(fires) for _ in range(3)] == [datetime(2026, 12, 12, 1, 0, tzinfo=UTC),    # 20:00, on the dot
                                               datetime(2026, 12, 12, 1, 30, tzinfo=UTC),   # 20:30
                                               datetime(2026, 12, 14, 12, 0, tzinfo=UTC)]   # Monday 07:00


def _synthetic(expr: str, dag_expr: str | None = None) -> object:
    from airflow.timetables.trigger import CronTriggerTimetable

    crontab = parse_crontab(f"CRON_TZ={NY}\n{expr} /opt/pm/bash/production_cron.sh nightly_backfill\n")
    schedule = schedule_of("nightly_backfill", CronTriggerTimetable(dag_expr or expr, timezone=NY))
    return job_parity("nightly_backfill", crontab.entries_of("nightly_backfill"), schedule,
                      ZoneChoice("UTC", "test"), datetime(2027, 1, 1, tzinfo=UTC), count=5,
                      window=timedelta(hours=24))


def test_repeated_hour_cron_takes_the_first_pass_the_timetable_the_second() -> None:
    fall = _synthetic("30 1 * * *").comparisons[2]
    assert [(d.at, d.side, d.expected) for d in fall.differences] == [
        (datetime(2027, 11, 7, 5, 30, tzinfo=UTC), "cron", True),
        (datetime(2027, 11, 7, 6, 30, tzinfo=UTC), "dag", True)]
    assert "make_aware with fold=1" in fall.differences[1].reason


def test_repeated_hour_wildcard_minute_job_cron_runs_both_passes_the_timetable_the_second() -> None:
    fall = _synthetic("*/30 1 * * *").comparisons[2]
    assert [(d.at, d.side) for d in fall.differences] == [(datetime(2027, 11, 7, 5, 0, tzinfo=UTC), "cron"),
                                                          (datetime(2027, 11, 7, 5, 30, tzinfo=UTC), "cron")]
    assert all(d.expected for d in fall.differences)


def test_hourly_jobs_agree_across_both_changes() -> None:
    assert _synthetic("5 * * * *").result == EQUAL
    assert _synthetic("@hourly", "0 * * * *").result == EQUAL


def test_skipped_hour_wildcard_job_only_the_timetable_runs_it() -> None:
    spring = _synthetic("*/30 2 * * *").comparisons[1]
    assert [(d.at, d.side, d.expected) for d in spring.differences] == [
        (datetime(2027, 3, 14, 7, 0, tzinfo=UTC), "dag", True)]


def test_two_skipped_runs_cron_runs_both_the_timetable_one() -> None:
    spring = _synthetic("0,30 2 * * *").comparisons[1]
    assert [(d.at, d.side) for d in spring.differences] == [(datetime(2027, 3, 14, 7, 0, tzinfo=UTC), "cron")]
    assert "cron skips 02:30" in spring.differences[0].reason


def test_a_different_schedule_is_never_expected() -> None:
    result = _synthetic("0 5 * * 1-5", "0 6 * * 1-5")
    assert result.result == DIFFERS
    assert "the schedules differ: cron `0 5 * * 1-5`, DAG `0 6 * * 1-5`" in result.comparisons[0].differences[0].reason


def test_a_job_on_two_lines_fires_on_both(schedules: dict[str, DagSchedule]) -> None:
    crontab = parse_crontab("CRON_TZ=America/New_York\n0 7-20 * * 1-5 /x/production_cron.sh auto_trader\n"
                            "CRON_TZ=UTC\n30 12-13 * * 1-5 /x/production_cron.sh auto_trader\n")
    (result,) = crontab_parity(crontab, schedules, ZoneChoice(NY, "test"), START, count=4)
    assert result.cron_schedules == ["0 7-20 * * 1-5 (America/New_York, CRON_TZ= on line 1)",
                                     "30 12-13 * * 1-5 (UTC, CRON_TZ= on line 3)"]
    # Monday 2026-12-07: 07:00-08:30 New York is 12:00-13:30 UTC; the UTC line gives 12:30 and 13:30
    first = result.comparisons[0]
    assert first.cron == first.dag == [datetime(2026, 12, 7, h, m, tzinfo=UTC) for h in (12, 13) for m in (0, 30)]
    assert first.result == EQUAL


def test_reboot_and_unknown_jobs_are_not_mappable(schedules: dict[str, DagSchedule]) -> None:
    crontab = parse_crontab("@reboot /x/production_cron.sh monitoring\n0 1 * * * /x/production_cron.sh old_job\n")
    results = crontab_parity(crontab, schedules, ZoneChoice(NY, "test"), START)
    assert [(r.job, r.result) for r in results] == [("monitoring", NOT_MAPPABLE), ("old_job", NOT_MAPPABLE)]
    assert "@reboot on line 1" in (results[0].problem or "")
    assert "no DAG replaces this job" in (results[1].problem or "")
