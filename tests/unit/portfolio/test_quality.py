from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from portfolio.quality import RULES, DataQualityError, quality_report, validate_ohlcv
from portfolio.synthetic import generate_ticker

Breaker = Callable[[pd.DataFrame], pd.DataFrame]


def good_frame() -> pd.DataFrame:
    return generate_ticker("AAPL", date(2024, 1, 2), date(2024, 3, 28)).drop(columns="regime")


def set_cell(row: int, column: str, value: object) -> Breaker:
    def apply(df: pd.DataFrame) -> pd.DataFrame:
        out = df.astype({column: object}) if not isinstance(value, float | int) else df.copy()
        out.loc[row, column] = value
        return out
    return apply


def high_below_open(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.loc[5, "high"] = out.loc[5, "open"] - 0.01
    return out


def low_above_close(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.loc[6, "low"] = out.loc[6, "close"] + 0.01
    return out


def duplicated_date(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.loc[8, "date"] = out.loc[7, "date"]
    return out


def swapped_dates(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.loc[[9, 10], "date"] = out.loc[[10, 9], "date"].to_numpy()
    return out


# (breaker, rule, a row label the error must name)
CASES = [
    pytest.param(set_cell(3, "close", float("nan")), "not_null", "2024-01-05", id="null-close"),
    pytest.param(set_cell(4, "open", "n/a"), "not_null", "2024-01-08", id="non-numeric-open"),
    pytest.param(set_cell(2, "date", "not a date"), "not_null", "row 2", id="unparseable-date"),
    pytest.param(set_cell(7, "low", -1.0), "positive_prices", "2024-01-11", id="negative-price"),
    pytest.param(high_below_open, "high_ge_open_close", "2024-01-09", id="high-below-open"),
    pytest.param(low_above_close, "low_le_open_close", "2024-01-10", id="low-above-close"),
    pytest.param(set_cell(11, "volume", -100.0), "volume_non_negative", "2024-01-18", id="negative-volume"),
    pytest.param(duplicated_date, "dates_monotonic_unique", "2024-01-11", id="duplicate-date"),
    pytest.param(swapped_dates, "dates_monotonic_unique", "2024-01-16", id="dates-out-of-order"),
    pytest.param(set_cell(0, "date", pd.Timestamp("2023-12-31")), "non_session_dates", "2023-12-31",
                 id="sunday-bar"),
    pytest.param(lambda df: df.drop(index=[12, 13]).reset_index(drop=True), "calendar_gaps", "2024-01-22",
                 id="missing-sessions"),
    pytest.param(lambda df: df.drop(columns=["volume"]), "required_columns", None, id="missing-column"),
    pytest.param(lambda df: df.iloc[0:0], "non_empty", None, id="empty-frame"),
]


def test_a_good_frame_passes_and_comes_back_typed(pmx_home: Path) -> None:
    frame = good_frame()
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")  # as read from a CSV
    checked = validate_ohlcv(frame, "AAPL")
    assert str(checked["date"].dtype) == "datetime64[ns]" and len(checked) == len(frame)
    assert quality_report(frame, "AAPL")["ok"] is True


@pytest.mark.parametrize(("breaker", "rule", "row"), CASES)
def test_each_rule_rejects_a_crafted_frame(pmx_home: Path, breaker: Breaker, rule: str,
                                           row: str | None) -> None:
    with pytest.raises(DataQualityError) as info:
        validate_ohlcv(breaker(good_frame()), "AAPL")
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.ticker, error.rule) == ("AAPL", rule)
    message = str(error)
    assert message.startswith("AAPL: ") and repr(rule) in message and "nothing written" in message
    if row is not None:
        assert row in error.rows and row in message
    assert rule in RULES


def test_rows_are_bounded_but_counted(pmx_home: Path) -> None:
    frame = good_frame()
    frame.loc[:, "volume"] = -1.0
    with pytest.raises(DataQualityError) as info:
        validate_ohlcv(frame, "MSFT")
    assert len(info.value.rows) == 10 and info.value.total == len(frame)
    assert f"on {len(frame)} row(s)" in str(info.value) and f"and {len(frame) - 10} more" in str(info.value)


def test_every_broken_rule_is_listed(pmx_home: Path) -> None:
    frame = set_cell(11, "volume", -100.0)(high_below_open(good_frame()))
    with pytest.raises(DataQualityError) as info:
        validate_ohlcv(frame, "AAPL")
    assert info.value.rule == "high_ge_open_close"
    assert list(info.value.failures) == ["high_ge_open_close", "volume_non_negative"]
    assert "also broken: volume_non_negative" in str(info.value)


def test_gap_tolerance_and_calendar_opt_out(pmx_home: Path) -> None:
    frame = good_frame().drop(index=[12, 13]).reset_index(drop=True)
    assert len(validate_ohlcv(frame, "AAPL", max_missing_sessions=2)) == len(frame)
    assert len(validate_ohlcv(frame, "AAPL", None)) == len(frame)
    with pytest.raises(DataQualityError, match="at most 1 allowed"):
        validate_ohlcv(frame, "AAPL", max_missing_sessions=1)


def test_quality_failure_metric_tags_ticker_and_rule(pmx_home: Path, udp_metrics: socket.socket) -> None:
    with pytest.raises(DataQualityError):
        validate_ohlcv(low_above_close(good_frame()), "NVDA")
    assert udp_metrics.recv(4096).decode() == "pmx.etl.quality_failure,ticker=NVDA,rule=low_le_open_close:1|c"
