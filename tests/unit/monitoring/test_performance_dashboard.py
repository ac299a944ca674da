from __future__ import annotations

import csv
import json
import statistics
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from foundation.pipeline_logger import get_logger, read_events
from monitoring.performance_dashboard import build_report, main
from monitoring.report_dags import percentile
from portfolio.database_manager import DatabaseManager

NOW = datetime.now(UTC)
# (days ago, equity): two snapshots share the bar 9 days ago; only the later one belongs to the curve.
EQUITY = [
    (40, 90_000.0),
    (10, 100_000.0),
    (9, 104_000.0),
    (8, 98_000.0),
    (7, 101_000.0),
    (6, 86_000.0),
    (5, 90_000.0),
    (4, 107_000.0),
    (3, 99_000.0),
    (2, 100_500.0),
]
INTRADAY = (9, 120_000.0, 3)  # an earlier snapshot of the bar 9 days ago (hours before the close one)
# (days ago, ticker, side, quantity, price, cost, realized pnl)
TRADES = [
    (40, "AAPL", "SELL", 1, 10.0, 1.0, 999.0),
    (9, "AAPL", "BUY", 10, 150.0, 1.5, None),
    (8, "AAPL", "SELL", 10, 162.0, 1.5, 118.5),
    (7, "MSFT", "BUY", 5, 300.0, 1.0, None),
    (6, "MSFT", "SELL", 5, 290.0, 1.0, -51.0),
    (5, "AAPL", "BUY", 4, 160.0, 1.0, None),
    (4, "AAPL", "SELL", 4, 171.0, 1.0, 43.0),
    (3, "MSFT", "BUY", 2, 310.0, 1.0, None),
    (2, "MSFT", "SELL", 2, 305.0, 1.0, -11.0),
    (2, "GOOGL", "SELL", 1, 100.0, 1.0, 0.0),
]
# (ticker, model, mape, rmse, directional accuracy)
METRICS = [
    ("AAPL", "sarimax", 0.02, 3.0, 0.6),
    ("MSFT", "sarimax", 0.04, 5.0, 0.4),
    ("AAPL", "garch", 0.03, 4.0, 0.5),
    ("MSFT", "garch", 0.05, 6.0, 0.7),
]
# (ticker, action, realized return, source)
SIGNALS = [
    ("AAPL", "BUY", 0.01, "time_series"),
    ("AAPL", "BUY", -0.02, "time_series"),
    ("MSFT", "SELL", -0.01, "time_series"),
    ("MSFT", "SELL", 0.03, "fallback"),
    ("AAPL", "HOLD", 0.05, "time_series"),
    ("MSFT", "BUY", None, "time_series"),
    ("AAPL", "BUY", 0.02, "fallback"),
]
RUNS = {
    "daily_etl": [("success", 60.0)] * 7 + [("failed", 15.0)] * 2 + [("success", 240.0)],
    "auto_trader": [("success", float(d)) for d in (5, 7, 9, 11, 30)],
}


def _iso(days_ago: float, hours: float = 0) -> str:
    return (NOW - timedelta(days=days_ago, hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seed_db() -> None:
    with DatabaseManager().transaction() as conn:
        snapshot = "INSERT INTO equity_snapshots (ts, run_id, cash, equity, pnl, bar) VALUES (?,?,?,?,?,?)"
        for ago, equity in EQUITY:
            conn.execute(snapshot, (_iso(ago), f"r{ago}", 1000.0, equity, equity - 100_000, _iso(ago)[:10]))
        ago, equity, hours = INTRADAY
        conn.execute(snapshot, (_iso(ago, hours), "intraday", 1000.0, equity, 0.0, _iso(ago)[:10]))
        for ago, ticker, side, qty, price, cost, pnl in TRADES:
            conn.execute(
                "INSERT INTO trades (run_id, ticker, bar, ts, side, quantity, price, cost, "
                "realized_pnl) VALUES (?,?,?,?,?,?,?,?,?)",
                (f"r{ago}", ticker, _iso(ago)[:10], _iso(ago), side, qty, price, cost, pnl),
            )
        for ticker, model, mape, rmse, da in METRICS:
            conn.execute(
                "INSERT INTO forecast_metrics (run_id, ticker, model, mape, rmse, "
                "directional_accuracy, converged, fit_seconds, created_at) "
                "VALUES ('f1',?,?,?,?,?,1,0.5,?)",
                (ticker, model, mape, rmse, da, _iso(3)),
            )
        for i, (ticker, action, realized, source) in enumerate(SIGNALS):
            conn.execute(
                "INSERT INTO signals (run_id, ticker, bar, created_at, action, confidence, "
                "expected_return, source, realized_return) VALUES (?,?,?,?,?,0.7,0.01,?,?)",
                (f"s{i}", ticker, _iso(5)[:10], _iso(5), action, source, realized),
            )
        previous = _previous_session(NOW.date())
        conn.execute(
            "INSERT INTO ohlcv VALUES ('AAPL', ?, 1, 2, 0.5, 1.5, 100, 'synthetic', ?)",
            ((NOW.date() - timedelta(days=30)).isoformat(), _iso(30)),
        )
        conn.execute(
            "INSERT INTO ohlcv VALUES ('MSFT', ?, 1, 2, 0.5, 1.5, 100, 'synthetic', ?)",
            (previous.isoformat(), _iso(1)),
        )


def _previous_session(day: date) -> date:
    """The last XNYS session before ``day`` (straight from exchange_calendars)."""
    import exchange_calendars as xcals

    cal = xcals.get_calendar("XNYS", start=(day - timedelta(days=30)).isoformat())
    return cal.previous_session(cal.date_to_session(day.isoformat(), direction="next")).date()


def _seed_events() -> None:
    log = get_logger("listener")
    for dag_id, runs in RUNS.items():
        for i, (state, duration) in enumerate(runs):
            log.log_event(
                f"dag_run_{state}",
                level="error" if state == "failed" else "info",
                dag_id=dag_id,
                run_id=f"{dag_id}_{i}",
                state=state,
                duration_s=duration,
            )
    for i, duration in enumerate((3.0, 4.0, 50.0)):
        log.log_event(
            "task_success",
            dag_id="daily_etl",
            task_id="forecast",
            run_id=f"daily_etl_{i}",
            state="success",
            duration_s=duration,
        )
    log.log_event(
        "task_success",
        dag_id="daily_etl",
        task_id="extract",
        run_id="daily_etl_0",
        state="success",
        duration_s=1.0,
    )
    log.error(
        "task_failed",
        dag_id="daily_etl",
        task_id="load",
        run_id="daily_etl_7",
        state="failed",
        duration_s=2.0,
        error="ValueError: bad rows",
    )
    get_logger("etl").log_event("etl_loaded", ticker="AAPL", run_id="etl1", rows_loaded=5, source="synthetic")
    get_logger("etl").error("etl_ticker_failed", ticker="MSFT", run_id="etl1", stage="extract")


@pytest.fixture
def seeded(pmx_home: Path) -> Path:
    _seed_db()
    _seed_events()
    return pmx_home


@pytest.fixture
def seeded_on_both(db_backend: str, pmx_home: Path) -> Path:
    """The seeded database and events, once on SQLite and once on PostgreSQL."""
    _seed_db()
    _seed_events()
    return pmx_home


def _report(out: Path) -> dict[str, Any]:
    return json.loads((out / "performance_report.json").read_text())


def _expected_curve() -> list[float]:
    return [e for ago, e in EQUITY if ago <= 30]


def test_equity_and_drawdown_match_the_snapshots(seeded_on_both: Path, tmp_path: Path) -> None:
    build_report(tmp_path, include_airflow=False)
    eq = _report(tmp_path)["trading"]["equity"]
    curve = _expected_curve()
    worst, peak = 0.0, curve[0]
    for value in curve:
        peak = max(peak, value)
        worst = max(worst, (peak - value) / peak)
    assert [p["equity"] for p in eq["points"]] == curve  # no intraday snapshot, nothing older than 30 days
    assert eq["end_equity"] == curve[-1]
    assert eq["max_drawdown"] == pytest.approx(worst)
    assert eq["current_drawdown"] == pytest.approx((max(curve) - curve[-1]) / max(curve))
    assert eq["period_return"] == pytest.approx(curve[-1] / curve[0] - 1)


def test_trade_statistics_match_the_rows(seeded_on_both: Path, tmp_path: Path) -> None:
    build_report(tmp_path, include_airflow=False)
    trades = _report(tmp_path)["trading"]["trades"]
    in_period = [t for t in TRADES if t[0] <= 30]
    pnls = [t[6] for t in in_period if t[2] == "SELL" and t[6] is not None]
    wins, losses = [p for p in pnls if p > 0], [p for p in pnls if p < 0]
    assert trades["trades"] == len(in_period)
    assert trades["closed_trades"] == len(pnls)
    assert trades["win_rate"] == pytest.approx(len(wins) / len(pnls))
    assert trades["profit_factor"] == pytest.approx(sum(wins) / -sum(losses))
    assert trades["realized_pnl"] == pytest.approx(sum(pnls))
    assert trades["costs"] == pytest.approx(sum(t[5] for t in in_period))
    msft = [t[6] for t in in_period if t[1] == "MSFT" and t[6] is not None]
    assert trades["by_ticker"]["MSFT"]["realized_pnl"] == pytest.approx(sum(msft))
    assert trades["by_ticker"]["MSFT"]["win_rate"] == 0.0
    assert trades["by_ticker"]["AAPL"]["profit_factor"] is None  # no losing AAPL trade in the period


def test_forecast_errors_and_signal_hit_rate(seeded_on_both: Path, tmp_path: Path) -> None:
    build_report(tmp_path, include_airflow=False)
    trading = _report(tmp_path)["trading"]
    for model in ("sarimax", "garch"):
        rows = [m for m in METRICS if m[1] == model]
        assert trading["forecast_errors"][model]["mape"] == pytest.approx(statistics.mean(r[2] for r in rows))
        assert trading["forecast_errors"][model]["rmse"] == pytest.approx(statistics.mean(r[3] for r in rows))
        assert trading["forecast_errors"][model]["fits"] == len(rows)
    scored = [s for s in SIGNALS if s[1] in ("BUY", "SELL") and s[2] is not None]
    hits = [s for s in scored if (s[1] == "BUY" and s[2] > 0) or (s[1] == "SELL" and s[2] < 0)]
    sig = trading["signals"]
    assert (sig["scored"], sig["hits"]) == (len(scored), len(hits))
    assert sig["hit_rate"] == pytest.approx(len(hits) / len(scored))
    fallback = [s for s in scored if s[3] == "fallback"]
    assert sig["by_source"]["fallback"]["scored"] == len(fallback)
    assert sig["pending"] == sum(1 for s in SIGNALS if s[2] is None)
    assert trading["quant_health"]["colour"] in ("GREEN", "YELLOW", "RED")
    assert trading["quant_health"]["reasons"]


def test_pipeline_section_counts_events(seeded_on_both: Path, tmp_path: Path) -> None:
    build_report(tmp_path, include_airflow=False)
    pipeline = _report(tmp_path)["pipeline"]
    failed_runs = sum(1 for runs in RUNS.values() for state, _ in runs if state == "failed")
    # error-level events are copied to the errors stream; each must be counted once
    assert pipeline["errors_by_event"] == {
        "dag_run_failed": failed_runs,
        "task_failed": 1,
        "etl_ticker_failed": 1,
    }
    assert pipeline["by_component"]["etl"] == {"error": 1, "info": 1}
    assert pipeline["last_etl_success"]["AAPL"]["rows_loaded"] == 5
    assert "MSFT" not in pipeline["last_etl_success"]


def test_dag_statistics_from_listener_events(seeded: Path, tmp_path: Path) -> None:
    result = build_report(tmp_path, include_airflow=False)
    report = _report(tmp_path)
    assert result["dag_source"] == report["sources"]["dags"]["kind"] == "events"
    etl = report["dags"]["dags"]["daily_etl"]
    durations = [d for _, d in RUNS["daily_etl"]]
    assert etl["runs"] == len(RUNS["daily_etl"])
    assert etl["success_rate"] == pytest.approx(8 / 10)
    assert etl["by_state"] == {"failed": 2, "success": 8}
    assert etl["duration_p50_s"] == pytest.approx(statistics.median(durations))
    p95 = statistics.quantiles(durations, n=100, method="inclusive")[94]
    assert etl["duration_p95_s"] == pytest.approx(p95)
    assert report["dags"]["slowest_tasks"][0]["task_id"] == "forecast"
    failures = report["dags"]["failures"]
    assert {(f["kind"], f["task_id"] if f["kind"] == "task" else None) for f in failures} == {
        ("dag_run", None),
        ("task", "load"),
    }
    assert any(f.get("error") == "ValueError: bad rows" for f in failures)


def test_csv_exports(seeded: Path, tmp_path: Path) -> None:
    build_report(tmp_path, include_airflow=False)
    with (tmp_path / "trades.csv").open() as fh:
        trades = list(csv.DictReader(fh))
    assert len(trades) == sum(1 for t in TRADES if t[0] <= 30)
    assert [float(t["price"]) for t in trades] == [t[4] for t in TRADES if t[0] <= 30]  # oldest first
    with (tmp_path / "dag_runs.csv").open() as fh:
        runs = list(csv.DictReader(fh))
    assert len(runs) == sum(len(r) for r in RUNS.values())
    assert {r["dag_id"] for r in runs} == set(RUNS)
    assert sum(r["state"] == "failed" for r in runs) == 2


def test_alerts_are_reported_returned_and_logged(seeded: Path, tmp_path: Path) -> None:
    result = build_report(tmp_path, include_airflow=False)
    by_name = {(a["alert"], a["subject"]): a for a in result["alerts"]}
    assert by_name[("dag_success_rate", "daily_etl")]["value"] == pytest.approx(0.8)
    assert ("dag_success_rate", "auto_trader") not in by_name
    assert ("stale_market_data", "AAPL") in by_name
    assert ("stale_market_data", "MSFT") not in by_name
    drawdown = by_name[("drawdown", "portfolio")]
    assert drawdown["value"] == pytest.approx(_report(tmp_path)["trading"]["equity"]["max_drawdown"])
    # worst drawdown is (104k - 86k) / 104k = 17.3%: beyond green's 15%, within yellow's 25%
    assert (drawdown["severity"], drawdown["threshold"]) == ("warning", 0.15)
    assert _report(tmp_path)["alerts"] == result["alerts"]
    logged = [e for e in read_events() if e["event"] == "performance_alert"]
    assert sorted((e["alert"], e["subject"]) for e in logged) == sorted(by_name)
    html = (tmp_path / "performance_report.html").read_text()
    assert "daily_etl: success rate 80.0%" in html


def test_critical_drawdown_alert(pmx_home: Path, tmp_path: Path) -> None:
    with DatabaseManager().transaction() as conn:
        for ago, equity in ((3, 100_000.0), (2, 70_000.0)):
            conn.execute(
                "INSERT INTO equity_snapshots (ts, run_id, cash, equity, pnl) VALUES (?,?,0,?,0)",
                (_iso(ago), f"r{ago}", equity),
            )
    result = build_report(tmp_path, include_airflow=False)
    assert [(a["alert"], a["severity"], a["threshold"]) for a in result["alerts"]] == [
        ("drawdown", "critical", 0.25)
    ]
    errors = [e for e in read_events(stream="errors") if e["event"] == "performance_alert"]
    assert len(errors) == 1


def test_empty_database_says_no_data_yet(pmx_home: Path, tmp_path: Path) -> None:
    result = build_report(tmp_path, include_airflow=False)
    for key in ("html", "json", "trades_csv", "dag_runs_csv"):
        assert Path(result[key]).is_file()
    assert result["alerts"] == []
    counts = result["counts"]
    assert counts["trades"] == counts["equity_points"] == counts["dag_runs"] == counts["task_instances"] == 0
    html = (tmp_path / "performance_report.html").read_text()
    assert html.count("no data yet") >= 8
    assert result["dag_source"] == "none"
    assert (tmp_path / "trades.csv").read_text().splitlines() == [
        "id,ts,ticker,side,quantity,price,cost,realized_pnl,mode,bar,run_id"
    ]
    assert result["png"] is None and result["png_error"] is None  # not asked for


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        for name, value in attrs:
            if name in ("src", "href", "data", "srcset", "poster", "action") and value:
                self.refs.append((tag, value))


def test_html_has_no_network_references_and_inlines_plotly_once(seeded: Path, tmp_path: Path) -> None:
    build_report(tmp_path, include_airflow=False)
    html = (tmp_path / "performance_report.html").read_text()
    parser = _Refs()
    parser.feed(html)
    remote = [r for r in parser.refs if r[1].lower().startswith(("http:", "https:", "//"))]
    assert remote == []
    assert "@import" not in html.split("<script", 1)[0]
    assert html.count("plotly.js v") == 1  # the bundle's banner: inlined exactly once
    assert html.count('class="plotly-graph-div"') >= 5
    assert parser.scripts >= 5


def test_dag_statistics_from_the_rest_api(seeded: Path, tmp_path: Path) -> None:
    class FakeApi:
        base_url = "http://127.0.0.1:1"

        def __init__(self) -> None:
            self.calls: list[tuple[str, dict[str, Any]]] = []

        def request(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
            self.calls.append((path, params))
            if path == "/dags/~/dagRuns":
                rows = [
                    {
                        "dag_id": "weekly",
                        "dag_run_id": f"r{i}",
                        "state": "failed" if i < 30 else "success",
                        "run_type": "scheduled",
                        "start_date": "2026-01-01T00:00:00Z",
                        "end_date": "2026-01-01T00:01:00Z",
                        "duration": None,
                    }
                    for i in range(150)
                ]
                start = params["offset"] - (1 if params["offset"] else 0)  # a new run shifted the listing
                return {"dag_runs": rows[start : params["offset"] + params["limit"]]}
            return {
                "task_instances": [
                    {
                        "dag_id": "weekly",
                        "dag_run_id": "r1",
                        "task_id": "t",
                        "state": "success",
                        "duration": 4.0,
                        "map_index": -1,
                        "try_number": 1,
                    }
                ]
            }

    api = FakeApi()
    result = build_report(tmp_path, airflow_api=api)
    report = _report(tmp_path)
    assert result["dag_source"] == "api"
    assert report["dags"]["dags"]["weekly"]["runs"] == 150  # two pages, the repeated row counted once
    assert report["dags"]["dags"]["weekly"]["success_rate"] == pytest.approx(120 / 150)
    assert report["dags"]["dags"]["weekly"]["duration_p50_s"] == pytest.approx(60.0)  # end - start
    assert "daily_etl" not in report["dags"]["dags"]  # the API wins over the events when it answers
    assert [c[1]["offset"] for c in api.calls if c[0] == "/dags/~/dagRuns"] == [0, 100]
    assert api.calls[0][1]["run_after_gte"] == report["period"]["since"]


def test_unreachable_api_falls_back_to_events(seeded: Path, tmp_path: Path) -> None:
    class DownApi:
        def request(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("connection refused")

    result = build_report(tmp_path, airflow_api=DownApi())
    note = _report(tmp_path)["sources"]["dags"]["note"]
    assert result["dag_source"] == "events"
    assert "ConnectionError: connection refused" in note


def test_png_failure_is_reported_not_raised(
    seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-browser"))
    result = build_report(tmp_path, include_airflow=False, png=True)
    assert result["png"] is None
    assert "no-such-browser" in result["png_error"]
    assert not (tmp_path / "performance_report.png").exists()
    assert Path(result["html"]).is_file()
    assert _report(tmp_path)["png"]["error"] == result["png_error"]


def test_png_without_equity_says_why(pmx_home: Path, tmp_path: Path) -> None:
    result = build_report(tmp_path, include_airflow=False, png=True)
    assert result["png"] is None and "no equity snapshots" in result["png_error"]


@pytest.mark.parametrize("days", [0, -3, 2.5, True], ids=["zero", "negative", "fraction", "bool"])
def test_bad_days_is_a_clear_error(pmx_home: Path, tmp_path: Path, days: Any) -> None:
    with pytest.raises(ValueError, match=r"days=.*must be a whole number of days >= 1"):
        build_report(tmp_path, include_airflow=False, days=days)


@pytest.mark.parametrize(
    "values",
    [[5.0], [1.0, 2.0], [3.0, 1.0, 2.0, 10.0, 7.5], list(map(float, range(37)))],
    ids=["one", "two", "unsorted", "many"],
)
@pytest.mark.parametrize("q", [50, 95])
def test_percentile_is_linear_interpolation(values: list[float], q: int) -> None:
    expected = values[0] if len(values) == 1 else statistics.quantiles(values, n=100, method="inclusive")[q - 1]
    assert percentile(values, q) == pytest.approx(expected)


def test_cli_writes_the_report(seeded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--output", str(tmp_path), "--no-airflow", "--days", "60"]) == 0
    out = capsys.readouterr().out
    assert f"report: {tmp_path / 'performance_report.html'}" in out
    assert "warning: AAPL: last bar" in out
    assert _report(tmp_path)["period"]["days"] == 60


@pytest.mark.parametrize(
    "argv", [["--days", "0"], ["--days", "x"], ["--bogus"]], ids=["zero", "text", "unknown"]
)
def test_cli_rejects_bad_arguments(
    pmx_home: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_cli_bad_config_is_one_line(
    pmx_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from foundation.paths import REPO_ROOT

    config = tmp_path / "config"
    config.mkdir()
    text = (REPO_ROOT / "config" / "pipeline.yml").read_text()
    (config / "pipeline.yml").write_text(text.replace("stale_after_sessions: 3", "stale_after_sessions: -1"))
    monkeypatch.setenv("PMX_CONFIG_DIR", str(config))
    assert main(["--output", str(tmp_path / "out"), "--no-airflow"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("performance_dashboard: configuration error:")
    assert "stale_after_sessions" in err and len(err.splitlines()) == 1


def test_monitoring_health_check_builds_the_report(seeded: Path) -> None:
    from monitoring.health import performance_snapshot

    result = performance_snapshot()
    assert result["check"] == "performance" and result["status"] == "ok"
    assert Path(result["html"]) == seeded / "reports" / "performance_report.html"
    assert Path(result["html"]).is_file()
    assert result["dag_source"] == "events"


def test_report_of_a_run_says_its_state_trades_and_equity(seeded_on_both: Path, tmp_path: Path) -> None:
    # The run is still "running" in the event log while its report task builds the report.
    get_logger("listener").log_event("dag_run_running", dag_id="portfolio_master", run_id="r2", state="running")
    run = {"dag_id": "portfolio_master", "run_id": "r2", "state": "success", "run_type": "manual"}
    result = build_report(tmp_path, include_airflow=False, run=run)
    report = _report(tmp_path)
    assert report["run"] == result["run"] == {**run, "trades": 2, "trade_costs": 2.0, "equity": 100_500.0,
                                              "pnl": 500.0}
    master = report["dags"]["dags"]["portfolio_master"]
    assert master["by_state"] == {"success": 1}
    assert master["success_rate"] == 1.0
    html = (tmp_path / "performance_report.html").read_text()
    assert "state success, 2 trade(s)" in html and "$100,500.00" in html


def test_report_outside_a_run_has_no_run_section(seeded: Path, tmp_path: Path) -> None:
    assert build_report(tmp_path, include_airflow=False)["run"] is None
    assert "run" not in _report(tmp_path)


def test_the_lineage_of_the_last_run_is_a_section(seeded: Path, tmp_path: Path) -> None:
    from tests.unit.lineage.test_summary import pipeline_run

    events = tmp_path / "openlineage.jsonl"
    lines = [json.dumps(e) for e in pipeline_run("manual__1", "ol-1", "09") + pipeline_run("manual__2", "ol-2", "10")]
    events.write_text("\n".join(lines) + "\nnot json\n")
    out = tmp_path / "out"
    build_report(out, include_airflow=False, lineage_events=events)
    lineage = json.loads((out / "performance_report.json").read_text())["lineage"]
    assert (lineage["run_id"], lineage["bad_lines"], lineage["chain_breaks"]) == ("manual__2", 1, [])
    html = (out / "performance_report.html").read_text()
    assert "Lineage of the last run" in html
    assert "<td>etl.batch</td><td>COMPLETE</td>" in html and "market_data/yfinance/AAPL" in html
    followed = build_report(out, include_airflow=False, lineage_events=events,
                            run={"dag_id": "portfolio_master", "run_id": "manual__1", "state": "running"})
    assert followed["run"]["run_id"] == "manual__1"
    assert json.loads((out / "performance_report.json").read_text())["lineage"]["run_id"] == "manual__1"


def test_no_lineage_events_is_a_note_not_a_failure(seeded: Path, tmp_path: Path) -> None:
    build_report(tmp_path, include_airflow=False, lineage_events=tmp_path / "missing.jsonl")
    assert json.loads((tmp_path / "performance_report.json").read_text())["lineage"]["note"] == "no lineage events yet"
    assert "no lineage events yet" in (tmp_path / "performance_report.html").read_text()


def test_a_fresh_install_shows_the_backtest_the_master_run_and_its_cost(pmx_home: Path, tmp_path: Path) -> None:
    """After one master run: one equity snapshot, buys only, the listener's events of the run."""
    from tests.trading_support import random_walk, seed_ensemble_forecast, seed_ohlcv

    db = DatabaseManager()
    dates = seed_ohlcv(db, "AAPL", [float(c) for c in random_walk(40, seed=5)])
    for i in (5, 10, 15, 20):
        seed_ensemble_forecast(db, "AAPL", dates[i], f"f{i}", expected_return=0.01, confidence=0.9)
    with db.transaction() as conn:
        conn.execute("INSERT INTO equity_snapshots (ts, run_id, cash, equity, pnl) "
                     "VALUES (?, 'm1', 9e4, 99998.8, -1.2)", (_iso(0, 0.1),))
        conn.execute("INSERT INTO trades (run_id, ticker, bar, ts, side, quantity, price, cost) "
                     "VALUES ('m1', 'AAPL', ?, ?, 'BUY', 10, 100, 1.2)", (dates[-1], _iso(0, 0.1)))
    log = get_logger("listener")
    tasks = [("etl.extract", 0.09, 20.0, 11.0), ("etl.forecast", 0.08, 60.0, 50.5), ("trading.trade", 0.05, 9.0, None)]
    log.log_event("dag_run_running", dag_id="portfolio_master", run_id="manual__1", state="running",
                  start_date=_iso(0, 0.1))
    for task_id, hours_ago, duration, cpu in tasks:
        log.log_event("task_success", dag_id="portfolio_master", task_id=task_id, run_id="manual__1", try_number=1,
                      state="success", start_date=_iso(0, hours_ago),
                      end_date=(NOW - timedelta(hours=hours_ago) + timedelta(seconds=duration)).isoformat(),
                      duration_s=duration, cpu_s=cpu)
    build_report(tmp_path, include_airflow=False, backtest_origins=0)
    report = _report(tmp_path)
    master = report["dags"]["costs"]["portfolio_master"]
    assert master["task_seconds"] == pytest.approx(sum(t[2] for t in tasks))
    assert master["cpu_seconds"] == pytest.approx(sum(t[3] for t in tasks if t[3] is not None))
    assert master["cpu_measured"] == 2
    assert report["dags"]["gantt"]["run_id"] == "manual__1"
    assert [b["task"] for b in report["dags"]["gantt"]["bars"]] == [t[0] for t in tasks]
    assert len(report["backtest"]["curve"]) == 4 and report["backtest"]["by_ticker"]["AAPL"]["trades"] == 4
    html = (tmp_path / "performance_report.html").read_text()
    for name in ("equity", "backtest", "pnl_by_ticker", "gantt", "dag_cost"):
        assert f'id="fig-{name}"' in html, name
