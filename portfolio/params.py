"""Run parameters resolved in the seed's order: explicit argument, then ``CRON_*`` environment, then config.

The environment consulted is the ``environ`` mapping given (default: the process environment).
:func:`portfolio.run_inputs.resolve_run_inputs` layers the Airflow sources (``dag_run.conf``, Variables) as
explicit arguments, so the full order under Airflow is: conf, Variable, ``CRON_*`` environment, config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from portfolio.calendar import trading_day
from portfolio.settings import check_ticker, load_settings

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
MODES = ("live", "synthetic", "auto")
DEVICES = ("cpu", "cuda", "auto")


class ParameterError(ValueError):
    """A run parameter is invalid; the message names the parameter and the value."""


def parse_bool(name: str, value: str | bool | int | None) -> bool | None:
    """Parse a 0/1/true/false flag; ``None`` stays ``None``."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ParameterError(f"{name}={value!r}: expected 0/1/true/false")


def parse_tickers(value: str | list[str] | tuple[str, ...], name: str = "tickers") -> list[str]:
    """Parse ``"AAPL,MSFT"`` or a list into validated, de-duplicated, upper-case tickers."""
    items = value.split(",") if isinstance(value, str) else list(value)
    tickers: list[str] = []
    for raw in items:
        ticker = str(raw).strip().upper()
        if not ticker:
            continue
        try:
            check_ticker(ticker)
        except ValueError as exc:
            raise ParameterError(f"{name}: {exc}") from None
        if ticker not in tickers:
            tickers.append(ticker)
    if not tickers:
        raise ParameterError(f"{name}={value!r}: no tickers given")
    return tickers


def parse_date(name: str, value: str | date) -> date:
    """Parse an ISO date (``YYYY-MM-DD``)."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ParameterError(f"{name}={value!r}: expected a date as YYYY-MM-DD") from None


def _pick_from(explicit: Any, env_name: str, environ: Mapping[str, str] | None = None) -> Any:
    if explicit not in (None, ""):
        return explicit
    env = (os.environ if environ is None else environ).get(env_name)
    return env if env not in (None, "") else None


@dataclass(frozen=True)
class RunParams:
    """The resolved parameters of one pipeline run."""

    tickers: list[str]
    start: date
    end: date
    mode: str
    pipeline_device: str
    enable_gpu_parallel: bool
    enable_parallel_tickers: bool
    enable_parallel_forecasts: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (dates as ISO strings)."""
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        return out


def resolve(*, tickers: str | list[str] | None = None, start: str | date | None = None,
            end: str | date | None = None, mode: str | None = None, pipeline_device: str | None = None,
            enable_gpu_parallel: str | bool | None = None, enable_parallel_tickers: str | bool | None = None,
            enable_parallel_forecasts: str | bool | None = None, core: bool = False,
            today: date | None = None, environ: Mapping[str, str] | None = None) -> RunParams:
    """Resolve every run parameter; raise :class:`ParameterError` naming the first bad one.

    ``environ`` is the fallback environment (``CRON_*`` and friends); ``None`` means ``os.environ``.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ

    def _pick(explicit: Any, env_name: str) -> Any:
        return _pick_from(explicit, env_name, env)

    cfg = load_settings()
    default_tickers = cfg.tickers.core if core else cfg.tickers.default
    # An explicit value is parsed as given: ``--tickers ''`` is an empty universe (an error), not "the default".
    raw_tickers = tickers if tickers is not None else _pick(None, "CRON_TICKERS")
    resolved_tickers = parse_tickers(raw_tickers, "tickers") if raw_tickers is not None else list(default_tickers)
    raw_start = _pick(start, "CRON_START_DATE")
    raw_end = _pick(end, "CRON_END_DATE")
    start_d = parse_date("start_date", raw_start) if raw_start is not None else cfg.dates.default_start
    default_end = cfg.dates.default_end or today or trading_day()  # the New York session date, not the host's
    end_d = parse_date("end_date", raw_end) if raw_end is not None else default_end
    if start_d > end_d:
        raise ParameterError(f"start_date={start_d.isoformat()} is after end_date={end_d.isoformat()}")
    run_mode = str(_pick(mode, "CRON_EXEC_MODE") or cfg.execution_mode).strip().lower()
    if run_mode not in MODES:
        raise ParameterError(f"execution_mode={run_mode!r}: expected one of {', '.join(MODES)}")
    device = str(_pick(pipeline_device, "PIPELINE_DEVICE") or cfg.runtime.pipeline_device).strip().lower()
    if device not in DEVICES:
        raise ParameterError(f"pipeline_device={device!r}: expected one of {', '.join(DEVICES)}")

    def flag(value: Any, env_name: str, default: bool) -> bool:
        parsed = parse_bool(env_name, _pick(value, env_name))
        return default if parsed is None else parsed

    return RunParams(
        tickers=resolved_tickers, start=start_d, end=end_d, mode=run_mode, pipeline_device=device,
        enable_gpu_parallel=flag(enable_gpu_parallel, "ENABLE_GPU_PARALLEL", cfg.runtime.enable_gpu_parallel),
        enable_parallel_tickers=flag(enable_parallel_tickers, "ENABLE_PARALLEL_TICKER_PROCESSING",
                                     cfg.runtime.enable_parallel_tickers),
        enable_parallel_forecasts=flag(enable_parallel_forecasts, "ENABLE_PARALLEL_FORECASTS",
                                       cfg.runtime.enable_parallel_forecasts),
    )
