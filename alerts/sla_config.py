"""``config/slas.yml`` -> typed SLA specs, validated at load (bad interval, unknown channel, unknown DAG...).

One file drives the Deadline Alerts a DAG attaches with :func:`alerts.deadlines.deadlines_for_dag`, the
Prometheus rules ``alerts/prometheus/sla_rules.yml`` (:mod:`alerts.sla_rules`) and the Grafana SLA panels
(``load_slas()`` / ``sla_names()``). DAG schedules and their timezone come from the file itself (``timezone:``,
per-SLA ``schedule:``) or from the file it names in ``schedules_file:`` (:mod:`alerts.sla_schedules`).
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.durations import Duration
from alerts.durations import parse_duration as parse_duration  # re-exported: the SLA tests and tools use it
from alerts.freshness_config import FreshnessConfig, parse_freshness
from alerts.runbooks import runbook_url
from alerts.sla_schedules import DEFAULT_TIMEZONE, Schedules, check_cron, check_timezone, load_schedules
from foundation import paths
from foundation.config_loader import ConfigError, Strict, read_yaml, validate
from foundation.severity import Severity

Reference = Literal["scheduled", "queued", "time_of_day", "average_runtime"]
DEFAULT_SLO_WINDOW = timedelta(days=28)
MIN_WARNED_BUDGET = timedelta(minutes=5)  # shorter budgets get no early warning unless warning_margin says so
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class SlaSpec(Strict):
    """One SLA: when a DAG run must be finished, how bad a miss is, who hears about it, what to do."""

    name: str = Field(pattern=_NAME.pattern)
    dag_id: str = Field(min_length=1)
    reference: Reference
    interval: Duration | None = None  # scheduled/queued: the budget; average_runtime: slack over the mean
    at: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # time_of_day: "HH:MM"
    timezone: str | None = None  # time_of_day: defaults to the DAG schedule's timezone
    schedule: str | None = None  # the DAG's cron; default: dags.<dag_id>.schedule of the schedules file
    manual_interval: Duration | None = None  # budget from queued_at for runs without a schedule slot
    max_runs: int = Field(default=10, ge=1)  # average_runtime: runs averaged
    min_runs: int = Field(default=3, ge=1)  # average_runtime: no deadline before this many successes
    severity: Severity = "error"
    channels: list[str] | None = None  # default: config/alerting.yml routing for the severity
    runbook: str = Field(min_length=1)  # anchor in docs/slas.md or an absolute URL
    description: str = ""
    offset: timedelta | None = None  # time_of_day: derived at load (at - scheduled time)
    objective: float | None = Field(default=None, gt=0, lt=1)  # SLO: share of runs on time, e.g. 0.99
    slo_window: Duration | None = None  # the error budget's window; default DEFAULT_SLO_WINDOW (with objective)
    # early warning when the projected finish passes deadline - margin; default: warning_margin_for(budget);
    # "off": no early warning (docs/slas.md#early-warning)
    warning_margin: Duration | Literal["off"] | None = None

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return check_cron(value)

    @model_validator(mode="after")
    def _reference_fields(self) -> SlaSpec:
        needs_interval = self.reference in ("scheduled", "queued", "average_runtime")
        if needs_interval and self.interval is None:
            raise ValueError(f"reference {self.reference!r} needs `interval`")
        if self.reference == "time_of_day":
            if self.at is None:
                raise ValueError("reference 'time_of_day' needs `at` (\"HH:MM\")")
            if self.interval is not None:
                raise ValueError("reference 'time_of_day' takes `at`, not `interval`")
        elif self.at is not None or self.timezone is not None:
            raise ValueError(f"`at`/`timezone` only apply to reference 'time_of_day', not {self.reference!r}")
        if self.slo_window is not None and self.objective is None:
            raise ValueError("`slo_window` needs an `objective`")
        if self.min_runs > self.max_runs:
            raise ValueError(f"min_runs ({self.min_runs}) must not exceed max_runs ({self.max_runs})")
        return self

    @property
    def budget(self) -> timedelta:
        """The run's allowed time from its reference (time_of_day: from the scheduled time)."""
        if self.reference == "time_of_day":
            if self.offset is None:
                raise ValueError(f"SLA {self.name}: time_of_day offset not derived (load it with load_slas)")
            return self.offset
        assert self.interval is not None
        return self.interval

    @property
    def error_window(self) -> timedelta:
        """The SLO's error-budget window (``slo_window``, default 28 days)."""
        return self.slo_window or DEFAULT_SLO_WINDOW

    def warning_margin_for(self, budget: timedelta) -> timedelta | None:
        """The early-warning margin of a deadline ``budget`` after its reference (None: no early warning).

        ``warning_margin`` when set; otherwise a fifth of the budget within [1 min, 15 min], for budgets of at
        least :data:`MIN_WARNED_BUDGET` (a shorter one leaves no time to act on a warning).
        """
        if self.warning_margin == "off":
            return None
        if isinstance(self.warning_margin, timedelta):
            return self.warning_margin
        if budget < MIN_WARNED_BUDGET:
            return None
        return min(max(budget / 5, timedelta(minutes=1)), timedelta(minutes=15))

    @property
    def manual_budget(self) -> timedelta:
        """Budget from ``queued_at`` for runs that have no schedule slot (manual, asset-triggered)."""
        return self.manual_interval or self.budget

    def runbook_url(self, base: str) -> str:
        """The runbook as an absolute URL (relative anchors hang off ``base``)."""
        return runbook_url(self.runbook, base)


class TaskBudget(Strict):
    """A soft per-task budget: a task running longer than ``budget`` raises a ``task_budget`` incident."""

    dag_id: str = Field(min_length=1)
    task_id: str = Field(min_length=1)  # fnmatch pattern over task ids, e.g. "*.forecast"
    budget: Duration
    severity: Severity = "warning"


class SlaFile(BaseModel):
    """The raw shape of ``config/slas.yml``."""

    model_config = ConfigDict(extra="forbid")

    runbook_base_url: str = "{ui_base_url}/pmx-sla/runbook"
    timezone: str | None = None  # of every schedule; default: the schedules file's, else UTC
    schedules_file: str | None = Field(default=None, min_length=1)  # relative to the config directory
    slas: dict[str, dict[str, Any]]
    task_budgets: list[TaskBudget] = Field(default_factory=list)
    freshness: dict[str, Any] | None = None  # data freshness SLAs (alerts.freshness_config)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return check_timezone(value)


class SlaConfig(BaseModel):
    """Validated SLAs and task budgets."""

    model_config = ConfigDict(frozen=True)

    runbook_base_url: str
    slas: tuple[SlaSpec, ...]
    task_budgets: tuple[TaskBudget, ...] = ()
    timezone: str | None = None  # the schedules' timezone when configured (the SLA view shows times in it)
    freshness: FreshnessConfig = FreshnessConfig()  # data freshness SLAs (docs/slas.md#freshness)

    def for_dag(self, dag_id: str) -> list[SlaSpec]:
        """The SLAs of one DAG (usually one)."""
        return [s for s in self.slas if s.dag_id == dag_id]

    def by_name(self, name: str) -> SlaSpec | None:
        """One SLA by name."""
        return next((s for s in self.slas if s.name == name), None)


def _daily_time(cron: str) -> tuple[int, int] | None:
    """(hour, minute) of a cron that fires at one fixed time of day, else None."""
    fields = cron.split()
    if len(fields) != 5 or not (fields[0].isdigit() and fields[1].isdigit()):
        return None
    return int(fields[1]), int(fields[0])


def _with_schedule(spec: SlaSpec, schedules: Schedules, file: Path, key: str) -> SlaSpec:
    """The spec with its DAG's schedule filled in from the schedules file; unknown DAGs are errors there."""
    if spec.schedule is not None:
        return spec
    if schedules.file is not None and spec.dag_id not in schedules.dag_ids:
        raise ConfigError(file, f"{key}.dag_id", spec.dag_id,
                          f"unknown DAG; known: {', '.join(sorted(schedules.dag_ids))} (from {schedules.file}); "
                          "or give the SLA its own `schedule`")
    found = schedules.by_dag.get(spec.dag_id)
    return spec.model_copy(update={"schedule": found}) if found else spec


def _derive_offset(spec: SlaSpec, schedule_tz: str, file: Path, key: str) -> SlaSpec:
    if spec.reference != "time_of_day":
        return spec
    tz = spec.timezone or schedule_tz
    if tz != schedule_tz:
        raise ConfigError(
            file,
            f"{key}.timezone",
            tz,
            f"must equal the DAG schedule timezone {schedule_tz!r} "
            "(a different zone makes the offset change with daylight saving time)",
        )
    if spec.schedule is None:
        raise ConfigError(
            file,
            f"{key}.schedule",
            "<missing>",
            f"reference 'time_of_day' needs the schedule of DAG {spec.dag_id!r}: give `schedule` (cron) here "
            "or list the DAG under `dags` of the file named by `schedules_file`",
        )
    at = spec.at or ""
    slot = _daily_time(spec.schedule)
    if slot is None:
        raise ConfigError(
            file,
            f"{key}.reference",
            "time_of_day",
            f"DAG {spec.dag_id!r} schedule "
            f"{spec.schedule!r} does not fire at one fixed time of day; use 'scheduled'",
        )
    minutes = (int(at[:2]) * 60 + int(at[3:]) - slot[0] * 60 - slot[1]) % 1440
    if minutes == 0:
        raise ConfigError(file, f"{key}.at", at, f"equals the scheduled time {slot[0]:02d}:{slot[1]:02d}")
    return spec.model_copy(update={"offset": timedelta(minutes=minutes), "timezone": tz})


def _check_objective(spec: SlaSpec, schedule_tz: str, file: Path, key: str) -> None:
    """An objective must leave room for at least one late run in its window, counted on the DAG's schedule."""
    if spec.objective is None or spec.schedule is None:
        return
    from alerts.promql import duration
    from alerts.sla_schedules import cron_fires

    budget = round(1 - spec.objective, 10)
    needed = math.ceil(1 / budget - 1e-9)
    runs = len(cron_fires(spec.schedule, spec.timezone or schedule_tz, spec.error_window, limit=needed))
    if runs < needed:
        window = duration(spec.error_window)
        best = f"at most {1 - 1 / runs:.4g}" if runs > 1 else "none"
        raise ConfigError(
            file, f"{key}.objective", spec.objective,
            f"DAG {spec.dag_id!r} ({spec.schedule!r}) runs {runs} time(s) in {window}: an objective of "
            f"{spec.objective:g} needs {needed} runs to allow one late run; choose {best} or a longer `slo_window`",
        )


def parse_slas(
    data: dict[str, Any],
    file: Path,
    known_channels: dict[str, Any] | None,
    schedules: Schedules | None = None,
) -> SlaConfig:
    """Validate ``slas.yml`` against the DAG schedules and channel names; errors name file, key and value.

    ``schedules``: what the file named by ``schedules_file`` says (see :func:`read_schedules`); without one,
    every DAG id is accepted and each SLA's own ``schedule`` (if any) is its DAG's.
    """
    raw = validate(SlaFile, data, file)
    schedules = schedules or Schedules()
    schedule_tz = raw.timezone or schedules.timezone or DEFAULT_TIMEZONE
    specs: list[SlaSpec] = []
    for name, body in raw.slas.items():
        key = f"slas.{name}"
        if not isinstance(body, dict):
            raise ConfigError(file, key, body, "each SLA must be a mapping")
        try:
            spec = validate(SlaSpec, {"name": name, **body}, file)
        except ConfigError as exc:  # re-anchor the key path under slas.<name>
            sub = exc.key if exc.key and exc.key != "name" else ""
            raise ConfigError(file, f"{key}.{sub}" if sub else key, exc.value, exc.problem) from None
        spec = _with_schedule(spec, schedules, file, key)
        if spec.channels is not None and known_channels is not None:
            from alerts.alerting_config import check_channels

            check_channels(spec.channels, known_channels, file, f"{key}.channels")
        _check_objective(spec, schedule_tz, file, key)
        specs.append(_derive_offset(spec, schedule_tz, file, key))
    if schedules.file is not None:
        known = schedules.dag_ids | {s.dag_id for s in specs}
        for i, budget in enumerate(raw.task_budgets):
            if budget.dag_id not in known:
                raise ConfigError(file, f"task_budgets[{i}].dag_id", budget.dag_id, "unknown DAG")
    freshness = parse_freshness(raw.freshness, file, known_channels, {s.name for s in specs})
    return SlaConfig(
        runbook_base_url=raw.runbook_base_url, slas=tuple(specs), task_budgets=tuple(raw.task_budgets),
        timezone=raw.timezone or schedules.timezone, freshness=freshness,
    )


def read_schedules(data: dict[str, Any], file: Path, env: str) -> Schedules:
    """The schedules file named by the ``schedules_file`` key of ``slas.yml`` data (nothing when unnamed)."""
    name = data.get("schedules_file")
    if name is not None and not (isinstance(name, str) and name.strip()):
        raise ConfigError(file, "schedules_file", name, "must name a YAML file relative to the config directory")
    return load_schedules(file.parent, name, env, file)


@lru_cache(maxsize=8)
def _cached(config_dir: str, env: str) -> SlaConfig:
    from alerts.alerting_config import load_alerting

    directory = Path(config_dir)
    file = directory / "slas.yml"
    data = read_yaml(file)
    schedules = read_schedules(data, file, env)
    channels = dict(load_alerting(directory, env).channels)
    return parse_slas(data, file, channels, schedules)


def load_sla_config(config_dir: Path | None = None) -> SlaConfig:
    """Load and validate ``config/slas.yml`` (cached per config directory)."""
    from foundation.config_loader import current_env

    return _cached(str(config_dir or paths.config_dir()), current_env())


def load_slas(config_dir: Path | None = None) -> list[SlaSpec]:
    """Every configured SLA (for dashboards and rule generators)."""
    return list(load_sla_config(config_dir).slas)


def sla_names(config_dir: Path | None = None) -> list[str]:
    """The SLA names, in file order (the ``sla`` label of ``pmx_sla_*`` metrics)."""
    return [s.name for s in load_slas(config_dir)]


def runbook_base(config_dir: Path | None = None) -> str:
    """The runbook base URL with ``{ui_base_url}`` filled in from ``config/alerting.yml``."""
    from alerts.alerting_config import load_alerting

    base = load_sla_config(config_dir).runbook_base_url
    return base.replace("{ui_base_url}", load_alerting(config_dir).link_base())


def clear_cache() -> None:
    """Forget loaded configs."""
    _cached.cache_clear()
