"""The report's figures on a fresh install: a lone point is drawn and dated, blank charts get something to show."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from monitoring.report_figures import equity_figure, pnl_by_ticker_figure
from monitoring.report_figures_dags import gantt_figure
from monitoring.report_plot import MARKER_POINTS, to_datetime

EQUITY = 99_996.4
ONE_POINT: list[dict[str, Any]] = [{"ts": "2026-12-07T15:30:00.000000Z", "equity": EQUITY, "drawdown": 0.0}]


def _range(axis: object) -> tuple[datetime, datetime]:
    lo, hi = axis.range  # type: ignore[attr-defined]
    return (lo if isinstance(lo, datetime) else datetime.fromisoformat(lo),
            hi if isinstance(hi, datetime) else datetime.fromisoformat(hi))


def test_a_single_equity_snapshot_is_a_marker_on_a_dated_axis() -> None:
    fig = equity_figure(ONE_POINT)
    assert all("markers" in trace.mode for trace in fig.data)
    assert fig.layout.xaxis.type == "date"
    lo, hi = _range(fig.layout.xaxis)
    assert hi - lo >= timedelta(days=1) and lo < to_datetime(ONE_POINT[0]["ts"]) < hi  # type: ignore[operator]
    assert fig.layout.xaxis.tickformat == "%b %d %H:%M"  # hours and a date, not milliseconds
    low, high = fig.layout.yaxis.range
    assert low < EQUITY < high and high - low >= 0.01 * EQUITY


def test_a_long_curve_is_drawn_as_lines_with_plotlys_own_range() -> None:
    points = [{"ts": f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}T20:00:00Z", "equity": 1e5 + i, "drawdown": 0.0}
              for i in range(MARKER_POINTS + 1)]
    fig = equity_figure(points)
    assert {trace.mode for trace in fig.data} == {"lines"}
    assert fig.layout.xaxis.range is None and fig.layout.yaxis.range is None


def test_pnl_by_ticker_shows_costs_and_the_backtest_when_nothing_closed() -> None:
    live = {"AAPL": {"realized_pnl": 0.0, "costs": 1.2}, "MSFT": {"realized_pnl": 0.0, "costs": 1.5}}
    backtest = {"AAPL": {"pnl": 250.0}, "GOOGL": {"pnl": -40.0}}
    fig = pnl_by_ticker_figure(live, backtest)
    bars = {trace.name: dict(zip(trace.x, trace.y, strict=True)) for trace in fig.data}
    assert bars["live realised PnL"] == {"AAPL": 0.0, "GOOGL": 0.0, "MSFT": 0.0}
    assert bars["live costs"] == {"AAPL": -1.2, "GOOGL": -0.0, "MSFT": -1.5}
    assert bars["backtest PnL"] == {"AAPL": 250.0, "GOOGL": -40.0, "MSFT": 0.0}


def test_gantt_bars_start_at_the_task_start_and_last_its_duration() -> None:
    bars = [{"task": "etl.extract[0]", "try_number": 1, "state": "up_for_retry", "start": "2026-12-02T09:00:10Z",
             "end": "2026-12-02T09:00:15Z", "duration_s": 5.0},
            {"task": "etl.extract[0]", "try_number": 2, "state": "success", "start": "2026-12-02T09:00:30Z",
             "end": "2026-12-02T09:00:50Z", "duration_s": 20.0}]
    fig = gantt_figure({"dag_id": "portfolio_master", "run_id": "manual__1", "bars": bars})
    drawn = {(y, base, x) for trace in fig.data for y, base, x in zip(trace.y, trace.base, trace.x, strict=True)}
    assert drawn == {("etl.extract[0]", to_datetime(bars[0]["start"]), 5000.0),
                     ("etl.extract[0] (try 2)", to_datetime(bars[1]["start"]), 20000.0)}
    assert fig.layout.xaxis.type == "date"
    assert {trace.name for trace in fig.data} == {"up_for_retry", "success"}


@pytest.mark.parametrize("text, expected", [("2026-12-07T15:30:00Z", datetime(2026, 12, 7, 15, 30)),
                                            ("2026-12-07T10:30:00-05:00", datetime(2026, 12, 7, 15, 30)),
                                            ("2026-12-07", datetime(2026, 12, 7)), ("garbage", None)],
                         ids=["utc", "offset", "date", "unreadable"])
def test_timestamps_become_naive_utc(text: str, expected: datetime | None) -> None:
    assert to_datetime(text) == expected
