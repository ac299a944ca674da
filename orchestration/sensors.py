"""MarketHoursSensor: succeeds while the exchange (NYSE/NASDAQ, calendar XNYS) is in a regular session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

if TYPE_CHECKING:
    from airflow.sdk import Context


class MarketHoursSensor(BaseSensorOperator):
    """Wait until the market is open; holidays, early closes (13:00 ET) and DST come from ``exchange_calendars``.

    Runs in ``reschedule`` mode by default so no worker slot is held while the market is closed. With
    ``soft_fail=True`` a market that stays closed until ``timeout`` skips the downstream tasks instead of failing.
    ``at`` (templated, ISO-8601) checks a fixed instant instead of the wall clock. ``bypass_in_synthetic_mode``
    lets synthetic exercises trade whatever the time (``CRON_EXEC_MODE``/``portfolio.execution_mode``).
    """

    template_fields = ("at",)
    ui_color = "#d6eaf8"

    def __init__(self, *, calendar: str = "XNYS", at: str | None = None, bypass_in_synthetic_mode: bool = False,
                 mode: str = "reschedule", **kwargs: Any) -> None:
        super().__init__(mode=mode, **kwargs)
        self.calendar = calendar
        self.at = at
        self.bypass_in_synthetic_mode = bypass_in_synthetic_mode

    def _instant(self) -> datetime:
        if not self.at:
            return datetime.now(UTC)
        instant = datetime.fromisoformat(str(self.at))
        return instant if instant.tzinfo else instant.replace(tzinfo=UTC)

    def poke(self, context: Context) -> PokeReturnValue:
        if self.bypass_in_synthetic_mode:
            from orchestration.runtime import run_params

            if run_params(context["dag_run"].conf).mode == "synthetic":
                self.log.info("synthetic mode: market clock bypassed")
                return PokeReturnValue(True, {"open": True, "reason": "synthetic mode"})
        from portfolio.calendar import market_status

        status = market_status(self._instant(), name=self.calendar)
        self.log.info("market %s: %s (next open %s)", "open" if status.is_open else "closed", status.reason,
                      status.next_open)
        return PokeReturnValue(status.is_open, {"open": status.is_open, "reason": status.reason})
