"""The ``make run`` summary's report line: where the run's report is and whether it tells the same story."""

from __future__ import annotations

from local_stack.run import report_line

SUMMARY = {"trades": "2 (costs $5.96)", "equity": "$99,994.04 (PnL $-5.96)"}
REPORT = {"json": "/r/performance_report.json",
          "run": {"run_id": "m1", "state": "success", "trades": 2, "trade_costs": 5.96, "equity": 99_994.04,
                  "pnl": -5.96}}


def test_a_report_that_agrees() -> None:
    assert report_line(REPORT, SUMMARY, "success") == (
        "/r/performance_report.json (agrees on state, trades and equity)")


def test_a_report_that_differs_says_on_what() -> None:
    stale = {**REPORT, "run": {**REPORT["run"], "state": "running", "trades": 0, "trade_costs": 0.0}}
    line = report_line(stale, SUMMARY, "success")
    assert line.startswith("/r/performance_report.json (DIFFERS on state, trades:")


def test_no_report_for_the_run() -> None:
    assert report_line(None, SUMMARY, "success").startswith("not built for this run")
