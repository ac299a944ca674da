"""Cron schedule expressions as Vixie cron reads them (``entry.c``): five fields or an ``@`` macro.

Fields are ``*``, ``N``, ``N-M``, ``*/S`` or ``N-M/S``, joined by commas; months and weekdays also take
three-letter names (``jan``, ``mon``, any case; in ranges too), and weekday 7 is Sunday. As in Vixie cron, a
step needs ``*`` or a range before it (``5/15`` is an error), and the day matches when the day of month *or* the
weekday matches if both fields are restricted, when both match otherwise (a field "is restricted" unless its text
starts with ``*``). The star flags also decide how cron treats the job across DST changes (:mod:`.vixie`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

# macro -> (equivalent fields, the star flags Vixie cron sets for it)
MACROS: dict[str, tuple[str, frozenset[str]]] = {
    "@yearly": ("0 0 1 1 *", frozenset({"dow"})),
    "@annually": ("0 0 1 1 *", frozenset({"dow"})),
    "@monthly": ("0 0 1 * *", frozenset({"dow"})),
    "@weekly": ("0 0 * * 0", frozenset({"dom"})),
    "@daily": ("0 0 * * *", frozenset({"dom", "dow"})),
    "@midnight": ("0 0 * * *", frozenset({"dom", "dow"})),
    "@hourly": ("0 * * * *", frozenset({"hour", "dom", "dow"})),
}
REBOOT = "@reboot"


class ExpressionError(ValueError):
    """A schedule Vixie cron would reject (the message names the field and the offending text)."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_start: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, MONTH_NAMES, 1),
    _Field("day of week", 0, 7, DOW_NAMES, 0),
)


def _number(text: str, field: _Field) -> int:
    if text.isdigit():
        value = int(text)
    elif field.names and text.lower() in field.names:
        value = field.names.index(text.lower()) + field.names_start
    else:
        allowed = f" or a name ({', '.join(field.names)})" if field.names else ""
        raise ExpressionError(f"{field.name}: {text!r} is not a number{allowed}")
    if not field.low <= value <= field.high:
        raise ExpressionError(f"{field.name}: {value} is outside {field.low}-{field.high}")
    return value


def _element(text: str, field: _Field) -> set[int]:
    base, slash, step_text = text.partition("/")
    if base == "*":
        low, high = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _number(first, field), _number(last, field)
        if low > high:
            raise ExpressionError(f"{field.name}: range {base!r} is empty (its start is after its end)")
    else:
        if slash:
            raise ExpressionError(f"{field.name}: {text!r}: a step needs '*' or a range before it (e.g. */15)")
        return {_number(base, field)}
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ExpressionError(f"{field.name}: step {step_text!r} in {text!r} must be a positive number")
        step = int(step_text)
    return set(range(low, high + 1, step))


def _field_values(text: str, field: _Field) -> frozenset[int]:
    values: set[int] = set()
    for element in text.split(","):
        if not element:
            raise ExpressionError(f"{field.name}: empty list element in {text!r}")
        values |= _element(element, field)
    return frozenset(values)


@dataclass(frozen=True)
class CronExpression:
    """One schedule: the sets of minutes, hours, days, months and weekdays (0 = Sunday), plus Vixie's star flags.

    ``stars`` holds the fields whose text starts with ``*`` (``minute``, ``hour``, ``dom``, ``dow``): a job with
    a starred minute or hour is a *wildcard* job for cron's DST handling, the others are *fixed-time* jobs.
    """

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    stars: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        """Parse five fields or a macro; ``@reboot`` has no fire times and is rejected here (see ``is_reboot``)."""
        text = text.strip()
        if text.startswith("@"):
            if text == REBOOT:
                raise ExpressionError("@reboot runs at boot, not on a schedule")
            if text not in MACROS:
                raise ExpressionError(f"unknown macro {text!r}; Vixie cron knows {', '.join([*MACROS, REBOOT])} "
                                      "(lower case)")
            fields_text, stars = MACROS[text]
            parsed = cls._from_fields(fields_text.split())
            return cls(text, parsed.minutes, parsed.hours, parsed.days, parsed.months, parsed.weekdays, stars)
        parts = text.split()
        if len(parts) != 5:
            raise ExpressionError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}")
        parsed = cls._from_fields(parts)
        return cls(" ".join(parts), parsed.minutes, parsed.hours, parsed.days, parsed.months, parsed.weekdays,
                   parsed.stars)

    @classmethod
    def _from_fields(cls, parts: list[str]) -> CronExpression:
        minutes, hours, days, months, weekdays = (_field_values(p, f) for p, f in zip(parts, _FIELDS, strict=True))
        if 7 in weekdays:
            weekdays = (weekdays - {7}) | {0}
        stars = frozenset(name for name, part in zip(("minute", "hour", "dom", "month", "dow"), parts, strict=True)
                          if part.startswith("*") and name != "month")
        return cls(" ".join(parts), minutes, hours, days, months, weekdays, stars)

    @property
    def is_wildcard(self) -> bool:
        """Vixie cron's "wildcard job": the minute or the hour field starts with ``*``."""
        return bool(self.stars & {"minute", "hour"})

    @property
    def day_or(self) -> bool:
        """True when a day matches on day-of-month OR weekday (both restricted), False for AND."""
        return not self.stars & {"dom", "dow"}

    def same_schedule(self, other: CronExpression) -> bool:
        """Both fire on the same wall-clock minutes (the text may differ: ``mon-fri`` and ``1-5``)."""
        return (self.minutes, self.hours, self.months, self._day_rule()) == (
            other.minutes, other.hours, other.months, other._day_rule())

    def _day_rule(self) -> tuple[frozenset[int], frozenset[int], bool]:
        full_days, full_weekdays = frozenset(range(1, 32)), frozenset(range(7))
        if self.day_or:
            if self.days == full_days or self.weekdays == full_weekdays:
                return full_days, full_weekdays, False  # either one matches every day
            return self.days, self.weekdays, True
        return self.days, self.weekdays, False

    def day_matches(self, when: datetime) -> bool:
        """The date of ``when`` (month included) is one the job runs on."""
        if when.month not in self.months:
            return False
        dom_ok = when.day in self.days
        dow_ok = (when.isoweekday() % 7) in self.weekdays
        return (dom_ok or dow_ok) if self.day_or else (dom_ok and dow_ok)

    def matches(self, when: datetime) -> bool:
        """``when`` (a wall-clock time) is a fire time."""
        return when.minute in self.minutes and when.hour in self.hours and self.day_matches(when)
