"""The crontab parser: fields (ranges, steps, lists, names), macros, zone lines, comments, errors with line numbers."""

from __future__ import annotations

from datetime import datetime

import pytest

from foundation.paths import REPO_ROOT
from local_stack.cutover.crontab import CrontabError, parse_crontab, read_crontab
from local_stack.cutover.expression import CronExpression, ExpressionError
from local_stack.cutover.mapping import JOB_TO_DAG, parse_jobs

CMD = "/opt/pm/bash/production_cron.sh"


def test_ranges_steps_lists_and_names() -> None:
    e = CronExpression.parse("*/15 7-20/4 1,15 jan-mar,DEC mon-fri")
    assert e.minutes == {0, 15, 30, 45}
    assert e.hours == {7, 11, 15, 19}
    assert e.days == {1, 15}
    assert e.months == {1, 2, 3, 12}
    assert e.weekdays == {1, 2, 3, 4, 5}
    assert e.is_wildcard and e.day_or  # minute starts with '*'; dom and dow both restricted


def test_sunday_is_0_or_7_and_names_equal_numbers() -> None:
    assert CronExpression.parse("0 0 * * 7").weekdays == {0}
    assert CronExpression.parse("0 5 * * mon-fri").same_schedule(CronExpression.parse("0 5 * * 1-5"))
    assert not CronExpression.parse("0 5 * * 1-5").same_schedule(CronExpression.parse("0 5 * * 1-6"))


@pytest.mark.parametrize(("macro", "fields"), [
    ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
])
def test_macros_are_their_five_fields(macro: str, fields: str) -> None:
    assert CronExpression.parse(macro).same_schedule(CronExpression.parse(fields))


def test_hourly_is_a_wildcard_job_and_daily_a_fixed_time_one() -> None:
    assert CronExpression.parse("@hourly").is_wildcard
    assert not CronExpression.parse("@daily").is_wildcard


def test_day_of_month_or_weekday_when_both_are_restricted() -> None:
    either = CronExpression.parse("0 0 1 * mon")
    assert either.matches(datetime(2027, 3, 1))     # the 1st (a Monday too)
    assert either.matches(datetime(2027, 4, 1))     # the 1st, a Thursday
    assert either.matches(datetime(2027, 4, 5))     # a Monday
    assert not either.matches(datetime(2027, 4, 6))
    both = CronExpression.parse("0 0 */1 * mon")    # a starred day of month: AND, as Vixie cron does
    assert both.matches(datetime(2027, 4, 5)) and not both.matches(datetime(2027, 4, 1))


@pytest.mark.parametrize(("text", "message"), [
    ("5/15 * * * *", "a step needs '*' or a range"),
    ("60 * * * *", "outside 0-59"),
    ("* 24 * * *", "outside 0-23"),
    ("0 0 0 * *", "outside 1-31"),
    ("0 0 * 13 *", "outside 1-12"),
    ("0 0 * * 8", "outside 0-7"),
    ("0 0 * * monday", "not a number or a name"),
    ("0 0 * foo *", "not a number or a name"),
    ("5-3 * * * *", "is empty"),
    ("*/0 * * * *", "must be a positive number"),
    ("1,,2 * * * *", "empty list element"),
    ("* * * *", "expected 5 fields"),
    ("@Daily", "unknown macro"),
    ("@reboot", "runs at boot"),
])
def test_what_vixie_cron_rejects(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        CronExpression.parse(text)
    assert message in str(info.value)


def test_comments_blank_lines_environment_and_zone_lines() -> None:
    crontab = parse_crontab(
        "# header\n"
        "\n"
        "   # indented comment\n"
        "CRON_TICKERS=AAPL,MSFT\n"
        'MAILTO = "ops@example.com"\n'
        f"0 5 * * 1-5 {CMD} env_sanity >> logs/cron/env_sanity.log 2>&1\n"
        "CRON_TZ=America/New_York\n"
        f"15\t5 *  * 1-5\t{CMD} daily_etl\n"
        "TZ=Europe/London\n"
        f"@hourly {CMD} monitoring\n"
        "CRON_TZ=\n"
        f"@daily /usr/bin/logrotate /etc/logrotate.conf\n"
        f"@reboot {CMD} synthetic_refresh\n",
        "test.crontab")
    assert crontab.environment["CRON_TICKERS"] == "AAPL,MSFT"
    assert crontab.environment["MAILTO"] == "ops@example.com"
    by_line = {e.line_no: e for e in crontab.entries}
    assert sorted(by_line) == [6, 8, 10, 12, 13]
    assert (by_line[6].job, by_line[6].dag_id, by_line[6].zone) == ("env_sanity", "env_sanity", None)
    assert (by_line[8].zone, by_line[8].zone_source) == ("America/New_York", "CRON_TZ= on line 7")
    assert by_line[8].schedule == "15 5 * * 1-5"
    assert (by_line[10].zone, by_line[10].zone_source) == ("Europe/London", "TZ= on line 9")
    assert by_line[12].zone is None and by_line[12].job is None  # an empty CRON_TZ= goes back to the default
    assert by_line[13].is_reboot and by_line[13].job == "synthetic_refresh"
    assert crontab.jobs == ["env_sanity", "daily_etl", "monitoring", "synthetic_refresh"]


def test_a_migrated_line_is_read_as_a_migrated_entry() -> None:
    crontab = parse_crontab(f"# migrated-to-airflow:daily_etl 15 5 * * 1-5 {CMD} daily_etl\n")
    (entry,) = crontab.entries
    assert (entry.job, entry.migrated_to, entry.active) == ("daily_etl", "daily_etl", False)


@pytest.mark.parametrize(("line", "message"), [
    (f"61 5 * * * {CMD} daily_etl", "minute: 61 is outside 0-59"),
    ("0 5 * * *", "expected five schedule fields and a command"),
    ("@daily", "no command after the schedule"),
    ("CRON_TZ=Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
])
def test_errors_name_the_file_the_line_and_its_text(line: str, message: str) -> None:
    with pytest.raises(CrontabError) as info:
        parse_crontab(f"# first\n{line}\n", "prod.crontab")
    assert str(info.value).startswith("prod.crontab, line 2: ")
    assert message in str(info.value)


def test_the_shipped_production_crontab_has_the_eleven_jobs() -> None:
    crontab = read_crontab(REPO_ROOT / "deploy" / "cron" / "production.crontab")
    assert sorted(crontab.jobs) == sorted(JOB_TO_DAG)
    assert all(e.active and e.zone is None and e.dag_id == e.job for e in crontab.entries)
    for name in ("CRON_TICKERS", "CRON_START_DATE", "CRON_EXEC_MODE", "PIPELINE_DEVICE", "ENABLE_GPU_PARALLEL"):
        assert name in crontab.environment
    for entry in crontab.entries:
        assert entry.command.endswith(f"production_cron.sh {entry.job} >> logs/cron/{entry.job}.log 2>&1")


def test_the_mapping_covers_the_scheduled_dags_of_the_orchestration_config() -> None:
    from orchestration.config import load_orchestration

    assert set(JOB_TO_DAG.values()) == set(load_orchestration().dags) - {"portfolio_master"}


def test_job_lists_from_the_command_line() -> None:
    assert parse_jobs("daily_etl, monitoring,daily_etl") == ["daily_etl", "monitoring"]
    assert parse_jobs("all") == list(JOB_TO_DAG)
    with pytest.raises(ValueError, match="unknown job"):
        parse_jobs("daily_etl,nope")
