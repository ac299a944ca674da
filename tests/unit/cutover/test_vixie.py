"""Vixie cron's fire times, DST changes included (instants worked out by hand from cron.c's four cases)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from local_stack.cutover.expression import CronExpression
from local_stack.cutover.vixie import vixie_fires
from local_stack.cutover.zones import next_transitions

NY = "America/New_York"


def _fires(expr: str, zone: str, start: datetime, n: int) -> list[tuple[str, str, str]]:
    out = itertools.islice(vixie_fires(CronExpression.parse(expr), zone, start), n)
    return [(f.at.strftime("%m-%d %H:%M"), f.wall.strftime("%H:%M"), f.note) for f in out]


def test_plain_schedules_in_utc() -> None:
    assert _fires("*/30 7-8 * * 1-5", "UTC", datetime(2026, 12, 11, 8, 15, tzinfo=UTC), 4) == [
        ("12-11 08:30", "08:30", ""), ("12-14 07:00", "07:00", ""), ("12-14 07:30", "07:30", ""),
        ("12-14 08:00", "08:00", "")]
    assert _fires("15 4 1 * *", "UTC", datetime(2027, 1, 15, tzinfo=UTC), 2) == [
        ("02-01 04:15", "04:15", ""), ("03-01 04:15", "04:15", "")]


def test_a_fixed_time_job_in_the_skipped_hour_runs_right_after_the_jump() -> None:
    # 2027-03-14: 02:00 EST (07:00Z) becomes 03:00 EDT; 02:05 does not exist
    assert _fires("5 2 * * *", NY, datetime(2027, 3, 13, tzinfo=UTC), 3) == [
        ("03-13 07:05", "02:05", ""), ("03-14 07:00", "02:05", "catch-up"), ("03-15 06:05", "02:05", "")]


def test_every_skipped_minute_of_a_fixed_time_job_runs_at_the_jump() -> None:
    assert _fires("0,30 2 * * *", NY, datetime(2027, 3, 14, tzinfo=UTC), 3) == [
        ("03-14 07:00", "02:00", "catch-up"), ("03-14 07:00", "02:30", "catch-up"), ("03-15 06:00", "02:00", "")]


def test_a_wildcard_job_in_the_skipped_hour_does_not_run() -> None:
    assert _fires("*/30 2 * * *", NY, datetime(2027, 3, 14, tzinfo=UTC), 2) == [
        ("03-15 06:00", "02:00", ""), ("03-15 06:30", "02:30", "")]


def test_an_hourly_wildcard_job_stays_hourly_across_both_changes() -> None:
    assert [a for a, _, _ in _fires("5 * * * *", NY, datetime(2027, 3, 14, 5, tzinfo=UTC), 3)] == [
        "03-14 05:05", "03-14 06:05", "03-14 07:05"]
    assert _fires("5 * * * *", NY, datetime(2027, 11, 7, 4, tzinfo=UTC), 4) == [
        ("11-07 04:05", "00:05", ""), ("11-07 05:05", "01:05", ""), ("11-07 06:05", "01:05", "repeat"),
        ("11-07 07:05", "02:05", "")]


def test_a_fixed_time_job_in_the_repeated_hour_runs_once_in_the_first_pass() -> None:
    # 2027-11-07: 02:00 EDT (06:00Z) becomes 01:00 EST; 01:30 comes at 05:30Z and again at 06:30Z
    assert _fires("30 1 * * *", NY, datetime(2027, 11, 6, tzinfo=UTC), 3) == [
        ("11-06 05:30", "01:30", ""), ("11-07 05:30", "01:30", ""), ("11-08 06:30", "01:30", "")]


def test_a_wildcard_minute_job_runs_in_both_passes_of_the_repeated_hour() -> None:
    assert _fires("*/30 1 * * *", NY, datetime(2027, 11, 7, tzinfo=UTC), 4) == [
        ("11-07 05:00", "01:00", ""), ("11-07 05:30", "01:30", ""), ("11-07 06:00", "01:00", "repeat"),
        ("11-07 06:30", "01:30", "repeat")]


def test_a_start_inside_the_repeated_hour_still_skips_the_second_pass() -> None:
    assert _fires("30 1 * * *", NY, datetime(2027, 11, 7, 6, 10, tzinfo=UTC), 1) == [("11-08 06:30", "01:30", "")]


def test_half_hour_dst_of_lord_howe() -> None:
    # 2027-10-03 02:00 +10:30 (15:30Z) becomes 02:30 +11: a 30-minute jump, Vixie's case 2
    assert _fires("15 2 * * *", "Australia/Lord_Howe", datetime(2027, 10, 2, tzinfo=UTC), 2) == [
        ("10-02 15:30", "02:15", "catch-up"), ("10-03 15:15", "02:15", "")]


def test_next_transitions_of_new_york_and_none_for_utc() -> None:
    found = next_transitions([NY, "UTC"], datetime(2026, 12, 7, tzinfo=UTC))
    assert [(t.kind, t.at, t.change) for t in found] == [
        ("spring-forward", datetime(2027, 3, 14, 7, tzinfo=UTC), timedelta(hours=1)),
        ("fall-back", datetime(2027, 11, 7, 6, tzinfo=UTC), timedelta(hours=-1))]
