"""Schedule parity, job by job: the crontab's fire times (Vixie cron, :mod:`.vixie`) against the DAG's timetable.

For each job three comparisons: the next ``count`` fire times of each side (compared up to the earlier of the two
last ones), and every fire time in a window around the next spring-forward and the next fall-back of the zones
involved. Each differing instant gets a reason, and the reason says whether the difference is *expected*: the
DST semantics of the two schedulers, documented in docs/migration.md. A different zone or a different schedule is
never expected.
"""

from __future__ import annotations

import functools
import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from local_stack.cutover.crontab import CronEntry, Crontab
from local_stack.cutover.expression import CronExpression, ExpressionError
from local_stack.cutover.timetables import DagSchedule, dag_fires
from local_stack.cutover.vixie import Fire, vixie_fires
from local_stack.cutover.zones import Transition, next_transition, next_transitions, offset

EQUAL, EXPECTED, DIFFERS = "equal", "expected", "differs"
NOT_MAPPABLE = "not mappable"


@dataclass(frozen=True)
class Difference:
    """An instant (UTC) only one side fires at, why, and whether the migration guide expects it."""

    at: datetime
    side: str        # "cron" or "dag"
    reason: str
    expected: bool


@dataclass(frozen=True)
class Comparison:
    """The fire times of both sides over one stretch of time."""

    label: str
    start: datetime
    end: datetime
    cron: list[datetime]
    dag: list[datetime]
    differences: list[Difference]

    @property
    def result(self) -> str:
        """``equal``, ``expected`` (only expected differences) or ``differs``."""
        if not self.differences:
            return EQUAL
        return EXPECTED if all(d.expected for d in self.differences) else DIFFERS


@dataclass(frozen=True)
class JobParity:
    """The parity of one job: its crontab lines, its DAG and the comparisons (or why there are none)."""

    job: str
    dag_id: str | None
    cron_schedules: list[str]    # "expr (zone, zone source)" per line
    dag_schedule: str | None
    comparisons: list[Comparison] = field(default_factory=list)
    problem: str | None = None

    @property
    def result(self) -> str:
        """The worst of the comparisons, or ``not mappable``."""
        if self.problem:
            return NOT_MAPPABLE
        results = {c.result for c in self.comparisons}
        return DIFFERS if DIFFERS in results else EXPECTED if EXPECTED in results else EQUAL


@dataclass(frozen=True)
class ZoneChoice:
    """The zone of crontab lines without ``CRON_TZ=``/``TZ=``, and where it came from."""

    name: str
    source: str


@dataclass(frozen=True)
class _CronSide:
    entries: list[CronEntry]
    default_zone: ZoneChoice

    def zone(self, entry: CronEntry) -> str:
        return entry.zone or self.default_zone.name

    def fires(self, start: datetime) -> Iterator[tuple[Fire, CronEntry]]:
        streams = [self._entry_fires(entry, start) for entry in self.entries]
        return heapq.merge(*streams, key=lambda pair: pair[0].at)

    def _entry_fires(self, entry: CronEntry, start: datetime) -> Iterator[tuple[Fire, CronEntry]]:
        if entry.expression is not None:
            for fire in vixie_fires(entry.expression, self.zone(entry), start):
                yield fire, entry


def _fmt_offset(value: timedelta) -> str:
    minutes = int(value / timedelta(minutes=1))
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _local(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%H:%M %Z")


@functools.lru_cache(maxsize=64)
def _observes_dst(zone: str, year: int) -> bool:
    tz = ZoneInfo(zone)
    return offset(tz, datetime(year, 1, 1, tzinfo=UTC)) != offset(tz, datetime(year, 7, 1, tzinfo=UTC))


def _has_dst(zone: str, around: datetime) -> bool:
    return _observes_dst(zone, around.year)


def _dag_expression(schedule: DagSchedule) -> CronExpression | None:
    try:
        return CronExpression.parse(schedule.expression) if schedule.expression else None
    except ExpressionError:
        return None


def _mismatch(at: datetime, entry: CronEntry, cron_zone: str, schedule: DagSchedule) -> str | None:
    """Why the two sides cannot agree at all: different schedules or different UTC offsets at ``at``."""
    dag_expression = _dag_expression(schedule)
    if entry.expression is not None and dag_expression is not None and \
            not entry.expression.same_schedule(dag_expression):
        return f"the schedules differ: cron `{entry.schedule}`, DAG `{schedule.expression}`"
    if schedule.zone is None:
        return None
    cron_offset, dag_offset = offset(ZoneInfo(cron_zone), at), offset(ZoneInfo(schedule.zone), at)
    if cron_offset == dag_offset:
        return None
    if not _has_dst(cron_zone, at) and _has_dst(schedule.zone, at):
        return (f"cron in {cron_zone} does not follow {schedule.zone} DST: here cron is {_fmt_offset(cron_offset)}, "
                f"the DAG {_fmt_offset(dag_offset)}")
    return (f"cron runs in {cron_zone} ({_fmt_offset(cron_offset)} here), the DAG in {schedule.zone} "
            f"({_fmt_offset(dag_offset)})")


def _ambiguous(wall: datetime, zone: ZoneInfo) -> bool:
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    exists = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall
    return exists and first.utcoffset() != second.utcoffset()


def _explain_cron_only(fire: Fire, entry: CronEntry, zone: str, schedule: DagSchedule) -> Difference:
    mismatch = _mismatch(fire.at, entry, zone, schedule)
    if mismatch:
        return Difference(fire.at, "cron", mismatch, False)
    wall = f"{fire.wall:%H:%M}"
    if fire.note == "catch-up":
        reason = (f"cron skips {wall} on the spring-forward day and runs this fixed-time job right after the "
                  f"jump, at {_local(fire.at, zone)}")
    elif fire.note == "repeat":
        reason = (f"cron runs this wildcard job again at {wall} in the repeated hour ({_local(fire.at, zone)}); "
                  "the DAG's timetable runs that wall-clock time once")
    elif _ambiguous(fire.wall, ZoneInfo(zone)):
        reason = (f"{wall} comes twice on the fall-back day: cron runs it in the first pass "
                  f"({_local(fire.at, zone)}), the DAG's timetable in the second")
    else:
        return Difference(fire.at, "cron", f"cron fires at {_local(fire.at, zone)}, the DAG does not", False)
    return Difference(fire.at, "cron", reason, True)


def _explain_dag_only(at: datetime, entry: CronEntry, zone: str, schedule: DagSchedule) -> Difference:
    mismatch = _mismatch(at, entry, zone, schedule)
    if mismatch:
        return Difference(at, "dag", mismatch, False)
    dag_zone = ZoneInfo(schedule.zone or zone)
    wall = at.astimezone(dag_zone).replace(tzinfo=None)
    expression = entry.expression
    if expression is not None and not expression.matches(wall):
        jump = next_transition(dag_zone, at - timedelta(days=1), timedelta(days=1, minutes=1))
        if jump is not None and jump.spring_forward and expression.matches(wall - jump.change):
            reason = (f"{wall - jump.change:%H:%M} does not exist on the spring-forward day; the DAG's timetable "
                      f"(croniter on the wall clock, then pendulum) runs it at {_local(at, str(dag_zone.key))}")
            return Difference(at, "dag", reason, True)
    elif _ambiguous(wall, dag_zone):
        reason = (f"{wall:%H:%M} comes twice on the fall-back day: the DAG's timetable runs it in the second "
                  f"pass ({_local(at, str(dag_zone.key))}, make_aware with fold=1), cron in the first")
        return Difference(at, "dag", reason, True)
    return Difference(at, "dag", f"the DAG fires at {_local(at, str(dag_zone.key))}, cron does not", False)


def _differences(cron: list[tuple[Fire, CronEntry]], dag: list[datetime], side: _CronSide,
                 schedule: DagSchedule) -> list[Difference]:
    cron_count, dag_count = Counter(f.at for f, _ in cron), Counter(dag)
    cron_only, dag_only = cron_count - dag_count, dag_count - cron_count
    out: list[Difference] = []
    pending = Counter(cron_only)
    for fire, entry in reversed(cron):  # the surplus runs of an instant are its last ones
        if pending[fire.at] > 0:
            pending[fire.at] -= 1
            out.append(_explain_cron_only(fire, entry, side.zone(entry), schedule))
    reference = side.entries[0]
    for at in sorted(dag_only.elements()):
        out.append(_explain_dag_only(at, reference, side.zone(reference), schedule))
    return sorted(out, key=lambda d: (d.at, d.side))


def _compare_next(side: _CronSide, schedule: DagSchedule, start: datetime, count: int) -> Comparison:
    cron = list(itertools.islice(side.fires(start), count))
    dag = list(itertools.islice(dag_fires(schedule, start), count))
    horizon = min(cron[-1][0].at if cron else start, dag[-1] if dag else start)
    cron = [pair for pair in cron if pair[0].at <= horizon]
    dag = [at for at in dag if at <= horizon]
    return Comparison(f"next {count}", start, horizon, [f.at for f, _ in cron], dag,
                      _differences(cron, dag, side, schedule))


def _until(items: Iterable[tuple[Fire, CronEntry]], end: datetime) -> list[tuple[Fire, CronEntry]]:
    return list(itertools.takewhile(lambda pair: pair[0].at < end, items))


def _compare_window(side: _CronSide, schedule: DagSchedule, transition: Transition,
                    half_width: timedelta) -> Comparison:
    start, end = transition.at - half_width, transition.at + half_width
    cron = _until(side.fires(start), end)
    dag = list(itertools.takewhile(lambda at: at < end, dag_fires(schedule, start)))
    label = f"{transition.kind} {transition.zone} {transition.at:%Y-%m-%dT%H:%MZ}"
    return Comparison(label, start, end, [f.at for f, _ in cron], dag, _differences(cron, dag, side, schedule))


def _schedule_text(entry: CronEntry, side: _CronSide) -> str:
    source = f", {entry.zone_source}" if entry.zone_source else ""
    return f"{entry.schedule} ({side.zone(entry)}{source})"


def job_parity(job: str, entries: list[CronEntry], schedule: DagSchedule | None, default_zone: ZoneChoice,
               start: datetime, count: int = 20, window: timedelta = timedelta(hours=48)) -> JobParity:
    """Compare one job's crontab lines with its DAG's timetable (``schedule``; None: the job has no DAG)."""
    side = _CronSide(entries, default_zone)
    texts = [_schedule_text(e, side) for e in entries]
    dag_text = schedule.description if schedule else None
    dag_id = schedule.dag_id if schedule else entries[0].dag_id
    if schedule is None:
        return JobParity(job, dag_id, texts, None, problem="no DAG replaces this job (docs/migration.md)")
    reboot = [e for e in entries if e.is_reboot]
    if reboot:
        return JobParity(job, dag_id, texts, dag_text,
                         problem=f"@reboot on line {reboot[0].line_no}: runs when cron starts, no timetable maps it")
    start = start.astimezone(UTC).replace(second=0, microsecond=0)
    comparisons = [_compare_next(side, schedule, start, count)]
    zones = [side.zone(e) for e in entries] + ([schedule.zone] if schedule.zone else [])
    for transition in next_transitions(zones, start):
        comparisons.append(_compare_window(side, schedule, transition, window))
    return JobParity(job, dag_id, texts, dag_text, comparisons)


def crontab_parity(crontab: Crontab, schedules: dict[str, DagSchedule], default_zone: ZoneChoice, start: datetime,
                   *, count: int = 20, window: timedelta = timedelta(hours=48),
                   jobs: list[str] | None = None) -> list[JobParity]:
    """Parity of every job of the crontab (or of ``jobs``), in crontab order."""
    out = []
    for job in crontab.jobs:
        if jobs is not None and job not in jobs:
            continue
        entries = crontab.entries_of(job)
        dag_id = entries[0].dag_id
        out.append(job_parity(job, entries, schedules.get(dag_id) if dag_id else None, default_zone, start,
                              count=count, window=window))
    return out


def unexpected(results: list[JobParity], *, strict: bool = False) -> list[JobParity]:
    """The jobs that fail the check: differing or not mappable (with ``strict``, expected differences too)."""
    bad = {DIFFERS, NOT_MAPPABLE} | ({EXPECTED} if strict else set())
    return [r for r in results if r.result in bad]
