"""Where the SLA file learns DAG schedules and their timezone, without knowing who wrote the DAGs.

``config/slas.yml`` may carry them itself (a top-level ``timezone:`` and a per-SLA ``schedule:``) and may name
a YAML file (``schedules_file:``, relative to the config directory) from which only ``timezone`` and
``dags.<dag_id>.schedule`` are read; every other key of that file is ignored. The project's own
``slas.yml`` names ``orchestration.yml``, so its schedules stay written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from foundation.config_loader import ConfigError, load_config

DEFAULT_TIMEZONE = "UTC"  # schedules without any configured timezone are read in UTC (Airflow's default)


def check_cron(value: str | None) -> str | None:
    """``value`` when it is a valid five-field cron expression (or None); else ValueError."""
    from croniter import croniter

    if value is not None and not croniter.is_valid(value):
        raise ValueError(f"not a valid cron expression: {value!r}")
    return value


def check_timezone(value: str | None) -> str | None:
    """``value`` when it names an IANA timezone (or None); else ValueError."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (an IANA name such as 'Europe/Paris')") from None
    return value


class _DagSchedule(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    schedule: str | None = None

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return check_cron(value)


class ScheduleFile(BaseModel):
    """The two things read from a schedules file; every other key is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    timezone: str | None = None
    dags: dict[str, _DagSchedule] = {}

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return check_timezone(value)


REFERENCE_WEEK = (2026, 1, 5)  # a Monday: windows counted from here hold whole weeks (weekday crons)


def cron_fires(schedule: str, timezone: str, span: timedelta, start: datetime | None = None,
               limit: int | None = None) -> list[datetime]:
    """When ``schedule`` fires in ``[start, start + span)`` (default start: Monday 2026-01-05 00:00 in
    ``timezone``), at most ``limit`` times."""
    import pendulum
    from croniter import croniter

    begin = start or pendulum.datetime(*REFERENCE_WEEK, tz=timezone)
    it = croniter(schedule, begin - timedelta(seconds=1))
    out: list[datetime] = []
    while limit is None or len(out) < limit:
        fire = it.get_next(datetime)
        if fire >= begin + span:
            break
        out.append(fire)
    return out


@dataclass(frozen=True)
class Schedules:
    """DAG schedules (cron) and their timezone as far as the schedules file knows them."""

    by_dag: dict[str, str] = field(default_factory=dict)
    timezone: str | None = None
    file: Path | None = None  # None: slas.yml names no schedules file
    dag_ids: frozenset[str] = frozenset()  # every DAG the schedules file lists (with or without a schedule)


def load_schedules(config_dir: Path, name: str | None, env: str, sla_file: Path) -> Schedules:
    """Read ``name`` (relative to ``config_dir``, plus its ``PMX_ENV`` overlay section) or nothing."""
    if not name:
        return Schedules()
    path = (config_dir / name).resolve()
    if path.suffix not in (".yml", ".yaml") or not path.is_file():
        raise ConfigError(sla_file, "schedules_file", name, f"no such YAML file in {config_dir}")
    if path.suffix == ".yaml" or path.parent != config_dir.resolve():
        from foundation.config_loader import read_yaml, validate

        parsed = validate(ScheduleFile, read_yaml(path), path)
    else:  # a file of the config directory: its environment overlay applies, as for the file's own owner
        parsed = load_config(ScheduleFile, path.stem, config_dir=path.parent, env=env)
    by_dag = {dag_id: spec.schedule for dag_id, spec in parsed.dags.items() if spec.schedule}
    return Schedules(by_dag=by_dag, timezone=parsed.timezone, file=path, dag_ids=frozenset(parsed.dags))
