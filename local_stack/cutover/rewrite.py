"""Comment a job's crontab lines out for Airflow, and back in, touching nothing else in the file.

A migrated line is the original line, byte for byte, behind ``# migrated-to-airflow:<dag> ``; taking the marker
off gives the original line back. The file is split on ``\\n`` only, so CRLF endings, tabs, trailing blanks and
a missing final newline all survive the round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from local_stack.cutover.crontab import MIGRATED_MARKER, CrontabError, parse_crontab


def marker(dag_id: str) -> bytes:
    """The prefix ``migrate`` puts before a line of a job moved to ``dag_id``."""
    return f"{MIGRATED_MARKER}{dag_id} ".encode()


@dataclass(frozen=True)
class Rewrite:
    """The new content and, per job, the line numbers changed."""

    data: bytes
    lines: dict[str, list[int]]


def comment_out(data: bytes, jobs: dict[str, str], source: str) -> Rewrite:
    """Comment out the active lines of ``jobs`` (job -> DAG id); a job without an active line is an error."""
    crontab = parse_crontab(data, source)
    lines = data.split(b"\n")
    changed: dict[str, list[int]] = {}
    for job, dag_id in jobs.items():
        entries = crontab.entries_of(job)
        if not entries:
            raise CrontabError(f"{source}: no line runs production_cron.sh {job}")
        reboot = [e for e in entries if e.is_reboot]
        if reboot:
            raise CrontabError(f"{source}, line {reboot[0].line_no}: {job} runs @reboot, which no DAG replaces")
        for entry in entries:
            if entry.active:
                lines[entry.line_no - 1] = marker(dag_id) + lines[entry.line_no - 1]
                changed.setdefault(job, []).append(entry.line_no)
    return Rewrite(b"\n".join(lines), changed)


def comment_in(data: bytes, jobs: list[str], source: str) -> Rewrite:
    """Take the migrated marker off the lines of ``jobs`` (lines without one are left alone)."""
    crontab = parse_crontab(data, source)
    lines = data.split(b"\n")
    changed: dict[str, list[int]] = {}
    for entry in crontab.entries:
        if entry.job in jobs and entry.migrated_to is not None:
            prefix = marker(entry.migrated_to)
            index = entry.line_no - 1
            if not lines[index].startswith(prefix):  # the parser found the marker there: cannot happen
                raise CrontabError(f"{source}, line {entry.line_no}: expected the marker {prefix.decode()!r}")
            lines[index] = lines[index][len(prefix):]
            changed.setdefault(entry.job, []).append(entry.line_no)
    return Rewrite(b"\n".join(lines), changed)
