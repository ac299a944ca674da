"""The ``freshness:`` section of ``config/slas.yml``: data freshness SLAs on Airflow Assets, validated at load.

Two rules (docs/slas.md#freshness): ``max_age`` (the asset's latest event is at most this old, counted in
trading-day time) and ``newer_than`` (the asset has an event newer than the latest event of another asset, once
``grace`` of trading-day time has passed since that one). Durations, names, channels and time zones are checked
when ``slas.yml`` is loaded (:func:`alerts.sla_config.parse_slas`); calendar names when the freshness checker
loads the section (:func:`alerts.freshness_check.load_freshness`), because that builds the calendar (the DAG
parser never imports ``exchange_calendars``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.durations import Duration
from alerts.runbooks import runbook_url
from alerts.sla_schedules import check_timezone
from foundation.config_loader import ConfigError, Strict, validate
from foundation.severity import Severity

DEFAULT_CALENDAR = "XNYS"
NO_CALENDAR = "none"  # plain 24/7 age
KNOWN_TIMEZONES = {"XNYS": "America/New_York", "XNAS": "America/New_York", "NYSE": "America/New_York"}
_NAME = r"^[a-z][a-z0-9_]{0,62}$"


class FreshnessSpec(Strict):
    """One freshness SLA: which asset, how fresh, on which calendar, how bad a miss is, what to do."""

    name: str = Field(pattern=_NAME)
    asset: str = Field(min_length=1)  # an Asset name or URI, e.g. portfolio_ohlcv or portfolio://market-data/ohlcv
    max_age: Duration | None = None  # the latest event is at most this old (trading-day time)
    newer_than: str | None = Field(default=None, min_length=1)  # an Asset name or URI the asset must follow
    grace: Duration | None = None  # newer_than: trading-day time allowed after the reference event
    calendar: str | None = None  # exchange_calendars name or "none"; default: the section's
    timezone: str | None = None  # the calendar's time zone; default: the section's, else the calendar's
    severity: Severity = "error"
    channels: list[str] | None = None  # default: config/alerting.yml routing for the severity
    runbook: str = Field(min_length=1)  # anchor in docs/slas.md or an absolute URL
    description: str = ""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return check_timezone(value)

    @model_validator(mode="after")
    def _rule(self) -> FreshnessSpec:
        if (self.max_age is None) == (self.newer_than is None):
            raise ValueError("give exactly one of `max_age` (a duration) or `newer_than` (an asset)")
        if self.grace is not None and self.newer_than is None:
            raise ValueError("`grace` only applies to `newer_than`")
        if self.newer_than is not None and self.newer_than == self.asset:
            raise ValueError(f"`newer_than` names the asset itself ({self.asset!r})")
        return self

    @property
    def uses_calendar(self) -> bool:
        """Whether age skips non-session days (False: plain 24/7 age)."""
        return (self.calendar or NO_CALENDAR) != NO_CALENDAR

    @property
    def grace_period(self) -> timedelta:
        """``grace`` (newer_than), zero when not given."""
        return self.grace or timedelta(0)

    def runbook_url(self, base: str) -> str:
        """The runbook as an absolute URL (relative anchors hang off ``base``)."""
        return runbook_url(self.runbook, base)


class FreshnessSection(BaseModel):
    """The raw shape of the ``freshness:`` section."""

    model_config = ConfigDict(extra="forbid")

    calendar: str = Field(default=DEFAULT_CALENDAR, min_length=1)  # exchange_calendars name, or "none"
    timezone: str | None = None  # default: the calendar's (UTC without a calendar)
    slas: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return check_timezone(value)


class FreshnessConfig(BaseModel):
    """Validated freshness SLAs (each with its calendar and time zone filled in)."""

    model_config = ConfigDict(frozen=True)

    specs: tuple[FreshnessSpec, ...] = ()
    file: str = "slas.yml"

    def by_name(self, name: str) -> FreshnessSpec | None:
        """One freshness SLA by name."""
        return next((s for s in self.specs if s.name == name), None)


def parse_freshness(data: Any, file: Path, known_channels: dict[str, Any] | None = None,
                    sla_names: set[str] | frozenset[str] = frozenset()) -> FreshnessConfig:
    """Validate the ``freshness:`` section (``None``: no freshness SLAs); errors name file, key and value."""
    if data is None:
        return FreshnessConfig(file=str(file))
    if not isinstance(data, dict):
        raise ConfigError(file, "freshness", data, "must be a mapping with `slas:` (and optional `calendar`)")
    try:
        section = validate(FreshnessSection, data, file)
    except ConfigError as exc:
        raise ConfigError(file, f"freshness.{exc.key}" if exc.key else "freshness", exc.value, exc.problem) from None
    calendar = section.calendar.strip()
    specs = []
    for name, body in section.slas.items():
        key = f"freshness.slas.{name}"
        if not isinstance(body, dict):
            raise ConfigError(file, key, body, "each freshness SLA must be a mapping")
        if name in sla_names:
            raise ConfigError(file, key, name, "a run SLA of `slas:` has this name already (names are shared)")
        try:
            spec = validate(FreshnessSpec, {"name": name, **body}, file)
        except ConfigError as exc:
            sub = exc.key if exc.key and exc.key != "name" else ""
            raise ConfigError(file, f"{key}.{sub}" if sub else key, exc.value, exc.problem) from None
        if spec.channels is not None and known_channels is not None:
            from alerts.alerting_config import check_channels

            check_channels(spec.channels, known_channels, file, f"{key}.channels")
        own = (spec.calendar or calendar).strip()
        # the section's zone belongs to the section's calendar; an SLA with its own calendar gets that one's
        zone = spec.timezone or (section.timezone if spec.calendar is None else None)
        if own.lower() == NO_CALENDAR:
            own, zone = NO_CALENDAR, zone or "UTC"
        else:
            zone = zone or KNOWN_TIMEZONES.get(own.upper())
        specs.append(spec.model_copy(update={"calendar": own, "timezone": zone}))
    return FreshnessConfig(specs=tuple(specs), file=str(file))


def check_calendars(config: FreshnessConfig) -> FreshnessConfig:
    """Build each named calendar once (:mod:`alerts.trading_time`); unknown names or a time zone other than the
    calendar's are :class:`ConfigError`; a missing time zone becomes the calendar's."""
    from alerts.trading_time import CalendarUnknown, calendar_timezone

    out = []
    for spec in config.specs:
        if not spec.uses_calendar:
            out.append(spec)
            continue
        key = f"freshness.slas.{spec.name}.calendar"
        try:
            zone = calendar_timezone(str(spec.calendar))
        except CalendarUnknown as exc:
            raise ConfigError(config.file, key, spec.calendar, str(exc)) from None
        if spec.timezone is not None and spec.timezone != zone:
            raise ConfigError(config.file, f"freshness.slas.{spec.name}.timezone", spec.timezone,
                              f"calendar {spec.calendar} runs in {zone}: its session days are that zone's dates")
        out.append(spec.model_copy(update={"timezone": zone}))
    return config.model_copy(update={"specs": tuple(out)})

