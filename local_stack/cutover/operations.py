"""The cutover steps: ``parallel``, ``migrate`` and ``rollback``, on one crontab file and the cutover state.

Only the crontab file named is read and written (never the machine's crontab: install a result yourself with
``crontab FILE``). DAGs are paused and unpaused through anything with ``set_paused(dag_id, paused)``, the REST
client :class:`local_stack.api_client.AirflowApi` in the command line, a stand-in in tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from foundation.atomic_io import write_atomic
from local_stack.cutover.crontab import CrontabError, parse_crontab
from local_stack.cutover.mapping import JOB_TO_DAG
from local_stack.cutover.rewrite import comment_in, comment_out
from local_stack.cutover.state import AIRFLOW_ONLY, CRON_ONLY, PARALLEL, CutoverState, StateError, sha256


class DagSwitch(Protocol):
    """Pauses and unpauses DAGs (``AirflowApi.set_paused``)."""

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """``PATCH /api/v2/dags/<dag_id>`` with ``{"is_paused": paused}``."""


@dataclass
class Outcome:
    """What a step did: messages to print, the DAG calls that failed, the crontab it would write (dry run)."""

    messages: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    crontab: bytes | None = None

    @property
    def ok(self) -> bool:
        """Every DAG call succeeded."""
        return not self.failures


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CrontabError(f"{path}: cannot read the crontab: {exc.strerror or exc}") from None


def _write(path: Path, data: bytes) -> None:
    write_atomic(path, data, mode=path.stat().st_mode & 0o7777)


def _switch(api: DagSwitch, jobs: list[str], paused: bool, outcome: Outcome) -> list[str]:
    """Pause or unpause the DAGs of ``jobs``; return the jobs whose call succeeded."""
    done = []
    verb = "paused" if paused else "unpaused"
    for job in jobs:
        dag_id = JOB_TO_DAG[job]
        try:
            api.set_paused(dag_id, paused)
        except Exception as exc:  # any failure of the call: report it and carry on with the other DAGs
            outcome.failures.append(f"{job}: could not {verb[:-1]} DAG {dag_id}: {exc}")
            continue
        outcome.messages.append(f"{job}: DAG {dag_id} {verb}")
        done.append(job)
    return done


def _active_jobs(data: bytes, source: str) -> tuple[set[str], set[str]]:
    crontab = parse_crontab(data, source)
    active = {e.job for e in crontab.entries if e.job and e.active}
    migrated = {e.job for e in crontab.entries if e.job and not e.active}
    return active, migrated


def parallel(jobs: list[str], state: CutoverState, *, crontab: Path | None = None,
             api: DagSwitch | None = None) -> Outcome:
    """Mark ``jobs`` as running in cron and Airflow; with ``crontab``, their lines must be active; with ``api``,
    unpause their DAGs first (a job whose DAG could not be unpaused keeps its status)."""
    outcome = Outcome()
    if crontab is not None:
        active, migrated = _active_jobs(_read(crontab), str(crontab))
        for job in jobs:
            if job not in active:
                why = "is commented out (migrated); roll it back first" if job in migrated else "has no line"
                raise CrontabError(f"{crontab}: {job} {why}")
    targets = _switch(api, jobs, False, outcome) if api is not None else jobs
    for job in targets:
        state.set_status(job, PARALLEL, "parallel: cron line kept, DAG on")
        outcome.messages.append(f"{job}: {PARALLEL}")
    state.save()
    return outcome


def migrate(crontab: Path, jobs: list[str], state: CutoverState, *, api: DagSwitch | None = None,
            dry_run: bool = False) -> Outcome:
    """Comment out the lines of ``jobs`` in ``crontab`` (the original is saved first, byte for byte).

    With ``api`` the DAGs are unpaused before the crontab changes, and a job whose DAG could not be unpaused
    stays in cron. Jobs already migrated are left as they are. ``dry_run`` only returns the new crontab.
    """
    outcome = Outcome()
    data = _read(crontab)
    active, migrated = _active_jobs(data, str(crontab))
    for job in jobs:
        if job in migrated and job not in active:
            outcome.messages.append(f"{job}: already migrated in {crontab}")
    todo = [job for job in jobs if not (job in migrated and job not in active)]
    rewrite = comment_out(data, {job: JOB_TO_DAG[job] for job in todo}, str(crontab))  # checks every job first
    if dry_run:
        outcome.crontab = rewrite.data
        return outcome
    if api is not None:
        unpaused = _switch(api, todo, False, outcome)
        if unpaused != todo:  # a DAG that is not on keeps its job in cron
            todo = unpaused
            rewrite = comment_out(data, {job: JOB_TO_DAG[job] for job in todo}, str(crontab))
    if not todo:
        return outcome
    original = state.save_original(crontab, data)
    _write(crontab, rewrite.data)
    for job in todo:
        lines = ", ".join(str(n) for n in rewrite.lines.get(job, []))
        state.set_status(job, AIRFLOW_ONLY, f"migrate: line(s) {lines} of {crontab} commented out")
        outcome.messages.append(f"{job}: {AIRFLOW_ONLY} (line {lines} commented out as "
                                f"'# migrated-to-airflow:{JOB_TO_DAG[job]} ...')")
    outcome.messages.append(f"original saved as {original}")
    state.save()
    return outcome


def rollback(crontab: Path, jobs: list[str] | None, state: CutoverState, api: DagSwitch) -> Outcome:
    """Give ``jobs`` (None: every migrated job) back to cron and pause their DAGs.

    Without ``jobs`` the saved original is written back byte for byte (the current file is backed up first).
    With ``jobs`` only their lines lose the marker; once no line is migrated any more the file is compared with
    the saved original. The crontab is restored before the DAGs are paused: a DAG that could not be paused leaves
    its job ``parallel``, never running nowhere.
    """
    outcome = Outcome()
    data = _read(crontab)
    _active, migrated = _active_jobs(data, str(crontab))
    if jobs is None:
        original = state.original(crontab)
        if original is None:
            raise StateError(f"no saved original of {crontab} in {state.directory}; roll back with --jobs")
        targets = sorted(migrated | {j for j in JOB_TO_DAG if state.status(j) != CRON_ONLY})
        if data != original:
            outcome.messages.append(f"current crontab backed up as {state.backup(crontab, data)}")
            _write(crontab, original)
        outcome.messages.append(f"{crontab} restored byte for byte (sha256 {sha256(original)[:12]})")
        state.forget_original(crontab)
    else:
        targets = jobs
        rewrite = comment_in(data, jobs, str(crontab))
        if rewrite.data != data:
            _write(crontab, rewrite.data)
        for job in jobs:
            lines = ", ".join(str(n) for n in rewrite.lines.get(job, [])) or "none migrated"
            outcome.messages.append(f"{job}: crontab line(s) back: {lines}")
        outcome.messages.extend(_compare_with_original(crontab, rewrite.data, state))
    paused = set(_switch(api, targets, True, outcome))
    for job in targets:
        if job in paused:
            state.set_status(job, CRON_ONLY, "rollback: crontab line restored, DAG paused")
            outcome.messages.append(f"{job}: {CRON_ONLY}")
        else:
            state.set_status(job, PARALLEL, "rollback: crontab line restored, DAG NOT paused")
            outcome.messages.append(f"{job}: {PARALLEL} (the DAG is still on: pause it by hand)")
    state.save()
    return outcome


def _compare_with_original(crontab: Path, data: bytes, state: CutoverState) -> list[str]:
    _active, migrated = _active_jobs(data, str(crontab))
    if migrated:
        return [f"still migrated in {crontab}: {', '.join(sorted(migrated))}"]
    original = state.original(crontab)
    if original is None:
        return []
    if original == data:
        state.forget_original(crontab)
        return [f"{crontab} is byte for byte the original again (sha256 {sha256(data)[:12]})"]
    return [f"{crontab} has no migrated line but differs from the original saved before the first migration "
            "(edited since?): compare with the saved original in the state directory"]
