"""OHLCV data quality: a pandera schema plus an exchange-calendar gap check, with one rule id per check.

:func:`validate_ohlcv` returns the checked frame or raises :class:`DataQualityError` naming the ticker, the
rule and the offending rows (dates where known, bounded). Rules, in the order they are reported:

``required_columns``, ``non_empty``, ``not_null``, ``positive_prices``, ``high_ge_open_close``,
``low_le_open_close``, ``volume_non_negative``, ``dates_monotonic_unique``, ``non_session_dates``,
``calendar_gaps``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from foundation.metrics import get_client
from portfolio.data_sources.base import OHLCV_COLUMNS, PRICE_COLUMNS

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

RULES: tuple[str, ...] = ("required_columns", "non_empty", "not_null", "positive_prices",
                          "high_ge_open_close", "low_le_open_close", "volume_non_negative",
                          "dates_monotonic_unique", "non_session_dates", "calendar_gaps")
CONFIGURED = "configured"
MAX_ROWS_SHOWN = 10


class DataQualityError(ValueError):
    """An OHLCV frame broke a rule: ``ticker``, ``rule``, ``rows`` (bounded), ``failures`` (every rule)."""

    def __init__(self, ticker: str, rule: str, rows: list[str], total: int, detail: str = "",
                 failures: dict[str, list[str]] | None = None) -> None:
        self.ticker, self.rule, self.rows, self.total = ticker, rule, rows[:MAX_ROWS_SHOWN], total
        self.failures = failures or {rule: self.rows}
        more = f" and {total - len(self.rows)} more" if total > len(self.rows) else ""
        where = f"on {total} row(s): {', '.join(self.rows)}{more}" if self.rows else "on the whole frame"
        others = [r for r in self.failures if r != rule]
        also = f"; also broken: {', '.join(others)}" if others else ""
        what = f" ({detail})" if detail else ""
        super().__init__(f"{ticker}: data quality rule {rule!r} failed{what} {where}{also}; "
                         "frame rejected, nothing written")


def _row_ok(df: pd.DataFrame, mask: pd.Series) -> pd.Series:
    """Rows with a null in a compared column pass here: ``not_null`` reports them."""
    return mask | df[list(PRICE_COLUMNS)].isna().any(axis=1)


@lru_cache(maxsize=1)
def ohlcv_schema() -> pa.DataFrameSchema:
    """The pandera schema of a canonical OHLCV frame (checks are named by rule id)."""
    import pandera.pandas as pa

    def column(checks: list[pa.Check]) -> pa.Column:
        return pa.Column("float64", checks=checks, nullable=False, coerce=True)

    positive = pa.Check(lambda s: s > 0, name="positive_prices", ignore_na=True)
    return pa.DataFrameSchema(
        columns={
            "date": pa.Column("datetime64[ns]", nullable=False, coerce=True, checks=[pa.Check(
                lambda s: ~s.duplicated(keep="first") & ~(s.diff() <= _zero_delta()),
                name="dates_monotonic_unique", ignore_na=True)]),
            **{c: column([positive]) for c in PRICE_COLUMNS},
            "volume": column([pa.Check(lambda s: s >= 0, name="volume_non_negative", ignore_na=True)]),
        },
        checks=[
            pa.Check(lambda df: _row_ok(df, df["high"] >= df[["open", "close"]].max(axis=1)),
                     name="high_ge_open_close"),
            pa.Check(lambda df: _row_ok(df, df["low"] <= df[["open", "close"]].min(axis=1)),
                     name="low_le_open_close"),
        ],
        strict=False, ordered=False,
    )


def _zero_delta() -> Any:
    import pandas as pd

    return pd.Timedelta(0)


def _label(frame: pd.DataFrame, index: Any) -> str:
    try:
        value = frame.at[index, "date"]
        if value == value and value is not None:  # not NaT
            return str(value.date()) if hasattr(value, "date") else str(value)
    except (KeyError, ValueError, TypeError):
        pass
    return f"row {index}"


def _rule_of(check: str) -> str:
    if check in ("not_nullable",) or check.startswith("coerce_dtype") or check.startswith("dtype"):
        return "not_null"
    return check


def _schema_failures(frame: pd.DataFrame) -> tuple[dict[str, list[str]], dict[str, int], dict[str, str]]:
    import pandera.pandas as pa

    failures: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    details: dict[str, str] = {}
    try:
        ohlcv_schema().validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        for _, case in cases.iterrows():
            rule = _rule_of(str(case["check"]))
            index = case["index"]
            label = _label(frame, index) if index is not None and index == index else "the whole frame"
            bucket = failures.setdefault(rule, [])
            if label not in bucket:
                bucket.append(label)
                counts[rule] = counts.get(rule, 0) + 1
            if rule == "not_null" and case["column"] not in (None, "") and case["column"] == case["column"]:
                prefix = "missing or unparseable value in column(s) "
                columns = set(filter(None, details.get(rule, "").removeprefix(prefix).split(", ")))
                columns.add(str(case["column"]))
                details[rule] = prefix + ", ".join(sorted(columns))
    return failures, counts, details


def calendar_failures(dates: pd.Series, calendar: str,
                      max_missing: int) -> tuple[dict[str, list[str]], dict[str, int]]:
    """``non_session_dates`` and ``calendar_gaps`` (missing sessions beyond ``max_missing``) of ``dates``."""
    from portfolio.calendar import is_session, sessions_between

    days = sorted({d.date() for d in dates.dropna()})
    if not days:
        return {}, {}
    present = set(days)
    failures: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    off = [d.isoformat() for d in days if not is_session(d, calendar)]
    if off:
        failures["non_session_dates"], counts["non_session_dates"] = off, len(off)
    missing = [d.isoformat() for d in sessions_between(days[0], days[-1], calendar) if d not in present]
    if len(missing) > max_missing:
        failures["calendar_gaps"], counts["calendar_gaps"] = missing, len(missing)
    return failures, counts


def validate_ohlcv(df: pd.DataFrame, ticker: str, calendar: str | None = CONFIGURED, *,
                   max_missing_sessions: int | None = None) -> pd.DataFrame:
    """Check ``df`` against every rule; return it typed, or raise :class:`DataQualityError` (first rule wins).

    ``calendar`` names the exchange calendar of the gap check (default: ``quality.calendar`` of the config);
    ``None`` skips the calendar rules.
    """
    import pandas as pd

    if calendar == CONFIGURED or max_missing_sessions is None:
        from portfolio.settings import load_settings

        cfg = load_settings().quality
        calendar = cfg.calendar if calendar == CONFIGURED else calendar
        if max_missing_sessions is None:
            max_missing_sessions = cfg.max_missing_sessions
    missing_cols = [c for c in OHLCV_COLUMNS if c not in df.columns]
    if missing_cols:
        _raise(ticker, {"required_columns": []}, {"required_columns": 0},
               {"required_columns": f"missing column(s) {', '.join(missing_cols)}"})
    if df.empty:
        _raise(ticker, {"non_empty": []}, {"non_empty": 0}, {"non_empty": "no rows"})
    frame = df.loc[:, list(OHLCV_COLUMNS)].copy()
    frame["date"] = pd.to_datetime(frame["date"], errors="coerce")
    for col in (*PRICE_COLUMNS, "volume"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    failures, counts, details = _schema_failures(frame)
    if calendar and "dates_monotonic_unique" not in failures and not frame["date"].isna().any():
        cal_failures, cal_counts = calendar_failures(frame["date"], calendar, max_missing_sessions)
        failures.update(cal_failures)
        counts.update(cal_counts)
        if "calendar_gaps" in cal_failures:
            details["calendar_gaps"] = (f"missing sessions of {calendar}, "
                                        f"at most {max_missing_sessions} allowed")
        if "non_session_dates" in cal_failures:
            details["non_session_dates"] = f"not {calendar} sessions"
    if failures:
        _raise(ticker, failures, counts, details)
    frame["date"] = frame["date"].astype("datetime64[ns]")
    return frame.astype({c: "float64" for c in (*PRICE_COLUMNS, "volume")})


def _raise(ticker: str, failures: dict[str, list[str]], counts: dict[str, int],
           details: dict[str, str]) -> None:
    ordered = {rule: failures[rule] for rule in RULES if rule in failures}
    ordered.update({rule: rows for rule, rows in failures.items() if rule not in ordered})
    statsd = get_client()
    for rule in ordered:
        statsd.incr("etl.quality_failure", tags={"ticker": ticker, "rule": rule})
    first = next(iter(ordered))
    raise DataQualityError(ticker, first, ordered[first], counts.get(first, len(ordered[first])),
                           details.get(first, ""), {r: rows[:MAX_ROWS_SHOWN] for r, rows in ordered.items()})


def quality_report(df: pd.DataFrame, ticker: str, calendar: str | None = CONFIGURED) -> dict[str, Any]:
    """Non-raising form for reports: ``{"ticker", "ok", "rule", "rows", "failures", "message"}``."""
    try:
        validate_ohlcv(df, ticker, calendar)
    except DataQualityError as exc:
        return {"ticker": ticker, "ok": False, "rule": exc.rule, "rows": exc.rows, "failures": exc.failures,
                "message": str(exc)}
    return {"ticker": ticker, "ok": True, "rule": None, "rows": [], "failures": {}, "message": ""}

