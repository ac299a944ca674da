"""Which DAG replaces which ``production_cron.sh <job>`` (the table in docs/migration.md)."""

from __future__ import annotations

import re

# One-to-one and by name: every job became the DAG of the same id. ``portfolio_master`` has no cron job.
JOB_TO_DAG: dict[str, str] = {job: job for job in (
    "daily_etl", "auto_trader", "auto_trader_core", "monitoring", "env_sanity", "nightly_backfill",
    "ts_threshold_sweep", "transaction_costs", "weekly_sleeve_maintenance", "synthetic_refresh", "sanitize_caches",
)}

_JOB_IN_COMMAND = re.compile(r"production_cron\.sh\s+([A-Za-z0-9_.-]+)")


def job_of_command(command: str) -> str | None:
    """The ``<job>`` argument of ``production_cron.sh <job>`` in a crontab command, or ``None``."""
    found = _JOB_IN_COMMAND.search(command)
    return found.group(1) if found else None


def dag_of_job(job: str) -> str | None:
    """The DAG that replaces ``job``, or ``None`` when no DAG does."""
    return JOB_TO_DAG.get(job)


def parse_jobs(value: str) -> list[str]:
    """``a,b`` (or ``all``) from the command line: known job names, in the order given, without repeats."""
    names = list(JOB_TO_DAG) if value.strip() == "all" else [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in JOB_TO_DAG]
    if unknown or not names:
        raise ValueError(f"unknown job(s) {', '.join(unknown) or '(none given)'}; "
                         f"known: {', '.join(JOB_TO_DAG)} (or 'all')")
    return list(dict.fromkeys(names))
