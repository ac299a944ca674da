"""Read a user crontab: comments, blank lines, ``NAME=value`` lines, ``CRON_TZ=``/``TZ=`` zones and job lines.

A job line is a schedule (five fields or an ``@`` macro) and a command; its job is the ``production_cron.sh
<job>`` argument of the command and its DAG comes from :mod:`.mapping`. A ``CRON_TZ=`` or ``TZ=`` line sets the
zone of the job lines after it (an empty value goes back to the default zone). Lines that ``cutover migrate``
commented out (``# migrated-to-airflow:<dag> <original line>``) are read as migrated entries.

The file is split on ``\\n`` only, as cron does, and decoded as UTF-8 with undecodable bytes kept as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from local_stack.cutover.expression import REBOOT, CronExpression, ExpressionError
from local_stack.cutover.mapping import dag_of_job, job_of_command

MIGRATED_MARKER = "# migrated-to-airflow:"
ZONE_VARIABLES = ("CRON_TZ", "TZ")
_ENV_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_MIGRATED_LINE = re.compile(re.escape(MIGRATED_MARKER) + r"([A-Za-z0-9_.-]+) (.*)$", re.DOTALL)


class CrontabError(ValueError):
    """A line cron would not accept: the message has the file, the line number, the reason and the line."""


@dataclass(frozen=True)
class CronEntry:
    """One job line (active, or commented out by ``cutover migrate``)."""

    line_no: int
    text: str                        # the line as written (for a migrated line: without the marker)
    schedule: str                    # the five fields or the macro, as written
    expression: CronExpression | None  # None for @reboot
    command: str
    zone: str | None                 # from the last CRON_TZ=/TZ= line before it; None: the default zone
    zone_source: str | None          # e.g. "CRON_TZ= on line 3"
    job: str | None                  # the production_cron.sh argument
    dag_id: str | None
    migrated_to: str | None = None   # the DAG named by the migrated marker

    @property
    def is_reboot(self) -> bool:
        """``@reboot``: runs when cron starts, which no timetable can map."""
        return self.expression is None

    @property
    def active(self) -> bool:
        """Cron runs this line (it is not commented out by ``migrate``)."""
        return self.migrated_to is None


@dataclass(frozen=True)
class Crontab:
    """A parsed crontab: its job entries and the environment it sets (last value of each name)."""

    source: str
    entries: tuple[CronEntry, ...]
    environment: dict[str, str] = field(default_factory=dict)

    def entries_of(self, job: str, *, include_migrated: bool = True) -> list[CronEntry]:
        """The entries running ``production_cron.sh <job>``."""
        return [e for e in self.entries if e.job == job and (include_migrated or e.active)]

    @property
    def jobs(self) -> list[str]:
        """Job names in the order of their first line."""
        return list(dict.fromkeys(e.job for e in self.entries if e.job))


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _zone(value: str, where: str) -> str | None:
    if not value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise CrontabError(f"{where}: unknown time zone {value!r}") from None
    return value


def _entry(text: str, line_no: int, zone: str | None, zone_source: str | None, migrated_to: str | None,
           where: str) -> CronEntry:
    stripped = text.strip()
    if stripped.startswith("@"):
        schedule, *rest = stripped.split(None, 1)
        command = rest[0] if rest else ""
    else:
        parts = stripped.split(None, 5)
        if len(parts) < 6:
            raise CrontabError(f"{where}: expected five schedule fields and a command: {text!r}")
        schedule, command = " ".join(parts[:5]), parts[5]
    if not command:
        raise CrontabError(f"{where}: no command after the schedule: {text!r}")
    try:
        expression = None if schedule == REBOOT else CronExpression.parse(schedule)
    except ExpressionError as exc:
        raise CrontabError(f"{where}: {exc}: {text!r}") from None
    job = job_of_command(command)
    return CronEntry(line_no=line_no, text=text, schedule=schedule, expression=expression, command=command,
                     zone=zone, zone_source=zone_source, job=job, dag_id=dag_of_job(job) if job else None,
                     migrated_to=migrated_to)


def parse_crontab(data: bytes | str, source: str = "<crontab>") -> Crontab:
    """Parse crontab content; ``source`` names the file in error messages."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    entries: list[CronEntry] = []
    environment: dict[str, str] = {}
    zone: str | None = None
    zone_source: str | None = None
    for line_no, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        where = f"{source}, line {line_no}"
        stripped = line.strip()
        migrated = _MIGRATED_LINE.match(line)
        if migrated:
            entries.append(_entry(migrated.group(2), line_no, zone, zone_source, migrated.group(1), where))
            continue
        if not stripped or stripped.startswith("#"):
            continue
        env = _ENV_LINE.match(line)
        if env:
            name, value = env.group(1), _unquote(env.group(2))
            environment[name] = value
            if name in ZONE_VARIABLES:
                zone = _zone(value, where)
                zone_source = f"{name}= on line {line_no}" if zone else None
            continue
        entries.append(_entry(line, line_no, zone, zone_source, None, where))
    return Crontab(source=source, entries=tuple(entries), environment=environment)


def read_crontab(path: Path) -> Crontab:
    """Parse the crontab file at ``path``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CrontabError(f"{path}: cannot read the crontab: {exc.strerror or exc}") from None
    return parse_crontab(data, str(path))
