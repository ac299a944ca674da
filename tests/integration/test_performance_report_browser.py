"""The performance report against real parts: headless Chromium with the network cut off, the PNG through
kaleido, and the DAG statistics from a real Airflow api-server (the session's integration stack)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from alerts.incident import Incident
from alerts.outbox import Outbox
from foundation.pipeline_logger import get_logger
from monitoring.performance_dashboard import build_report
from portfolio.database_manager import DatabaseManager
from tests.support import require
from tests.trading_support import random_walk, seed_ensemble_forecast, seed_ohlcv

if TYPE_CHECKING:
    from local_stack.stack import AirflowStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]  # see tests/wait_budget.py

FIGURES = ("equity", "backtest", "pnl_by_ticker", "forecast_mape", "events", "dag_runs", "dag_durations", "gantt",
           "schedule_delay", "dag_cost", "sla_lateness", "error_budget")
API_ROWS = Path(__file__).resolve().parents[1] / "unit" / "monitoring" / "fixtures" / "report" / "api_rows.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chromium() -> str:
    path = shutil.which("chromium")
    require(path is not None, "Debian chromium is not installed (make system-deps)")
    assert path is not None
    return path


def _seed() -> None:
    now = datetime.now(UTC)
    iso = [(now - timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%S.%fZ") for d in range(25)]
    with DatabaseManager().transaction() as conn:
        for d in range(20, 0, -1):
            conn.execute("INSERT INTO equity_snapshots (ts, run_id, cash, equity, pnl) VALUES (?,?,0,?,0)",
                         (iso[d], f"r{d}", 100_000 + 500 * ((d * 7) % 11) - 100 * d))
        for i, (ticker, side, pnl) in enumerate([("AAPL", "BUY", None), ("AAPL", "SELL", 40.0),
                                                 ("MSFT", "BUY", None), ("MSFT", "SELL", -15.0)]):
            conn.execute("INSERT INTO trades (run_id, ticker, bar, ts, side, quantity, price, cost, "
                         "realized_pnl) VALUES (?, ?, ?, ?, ?, 1, 100, 1, ?)",
                         (f"t{i}", ticker, iso[5 - i][:10], iso[5 - i], side, pnl))
        conn.execute("INSERT INTO forecast_metrics (run_id, ticker, model, mape, rmse, directional_accuracy, "
                     "created_at) VALUES ('f', 'AAPL', 'sarimax', 0.02, 1.0, 0.6, ?)", (iso[2],))
    log = get_logger("listener")
    for i, state in enumerate(("success", "success", "failed")):
        log.log_event(f"dag_run_{state}", dag_id="daily_etl", run_id=f"r{i}", state=state,
                      duration_s=10.0 + i)
        log.log_event(f"task_{state}", dag_id="daily_etl", task_id="load", run_id=f"r{i}", state=state,
                      duration_s=3.0 + i)


class _RowsApi:
    """The REST listings answered from the fixture rows plus a master run (queued times included)."""

    base_url = "fixture://api_rows.json"

    def __init__(self, now: datetime) -> None:
        rows = json.loads(API_ROWS.read_text())
        start = now - timedelta(minutes=20)
        iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
        self.rows = {"dag_runs": [*rows["dag_runs"], {
            "dag_id": "portfolio_master", "dag_run_id": "manual__1", "state": "success", "run_type": "manual",
            "queued_at": iso(start - timedelta(seconds=3)), "start_date": iso(start), "end_date": iso(now),
            "duration": 1200.0}], "task_instances": [*rows["task_instances"], *[
            {"dag_id": "portfolio_master", "dag_run_id": "manual__1", "task_id": task, "map_index": -1,
             "try_number": tries, "state": "success", "queued_when": iso(start + timedelta(seconds=60 * i)),
             "start_date": iso(start + timedelta(seconds=60 * i + 2)),
             "end_date": iso(start + timedelta(seconds=60 * i + 50)), "duration": 48.0}
            for i, (task, tries) in enumerate((("env_sanity.check", 1), ("etl.extract", 2), ("trading.trade", 1)))]]}

    def request(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        key = "dag_runs" if path == "/dags/~/dagRuns" else "task_instances"
        return {key: self.rows[key][params["offset"]:params["offset"] + params["limit"]]}


def _seed_slas_and_history(now: datetime) -> Outbox:
    """SLA misses (one with a diagnosis), a warning, and bars with stored forecasts for the backtest."""
    db = DatabaseManager()
    dates = seed_ohlcv(db, "AAPL", [float(c) for c in random_walk(40, seed=2)])
    for i in (5, 10, 15, 20, 25):
        seed_ensemble_forecast(db, "AAPL", dates[i], f"f{i}", expected_return=0.01, confidence=0.9)
    outbox = Outbox()
    for run_id, late in (("scheduled__1", 420.0), ("scheduled__2", 95.0)):
        key = f"pmx-sla/daily_etl/daily_etl_ready/{run_id}"
        miss_id, _ = outbox.add_incident(Incident(
            kind="sla_miss", dedup_key=key, severity="critical", summary="late", dag_id="daily_etl", run_id=run_id,
            details={"sla": "daily_etl_ready", "deadline": (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "diagnosis": "extract waited for a slot"}))
        outbox.resolve_miss(miss_id, Incident(kind="sla_recovered", dedup_key=key, severity="info", summary="ok",
                                              dag_id="daily_etl", run_id=run_id,
                                              details={"sla": "daily_etl_ready", "late_seconds": late}), late)
    outbox.add_incident(Incident(kind="sla_warning", dedup_key="pmx-sla/daily_etl/daily_etl_ready/scheduled__1",
                                 severity="warning", summary="may be late", dag_id="daily_etl", run_id="scheduled__1",
                                 details={"sla": "daily_etl_ready", "deadline": "2026-12-01T11:00:00Z",
                                          "projected_finish": "2026-12-01T11:20:00Z",
                                          "diagnosis": "forecast 3x its median"}))
    return outbox


BAR = re.compile(r'<g class="point"><path d="M([\d.]+),([\d.]+)V([\d.]+)H([\d.]+)')


def _marks(svg: str) -> int:
    """Scatter markers, lines through two points or more, and bars with an area in a figure's SVG."""
    markers = len(re.findall(r'<path class="point" transform=', svg))
    lines = len(re.findall(r'<path class="js-line" d="M[^"]*L', svg))
    bars = sum(1 for x, y, y2, x2 in BAR.findall(svg) if x != x2 and y != y2)
    return markers + lines + bars


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])  # type: ignore[return-value]


def _pixel_bytes(data: bytes) -> bytes:
    """The decompressed image data (filter bytes included) of a PNG."""
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return zlib.decompress(idat)


def test_report_renders_offline_in_chromium_and_exports_png(pmx_home: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    _seed()
    now = datetime.now(UTC)
    outbox = _seed_slas_and_history(now)
    result = build_report(tmp_path / "report", airflow_api=_RowsApi(now), png=True, outbox=outbox, backtest_origins=0)
    assert result["dag_source"] == "api"

    assert result["png_error"] is None, result["png_error"]
    png = Path(result["png"]).read_bytes()
    assert _png_size(png) == (1000, 520)  # the equity/drawdown figure's layout size
    assert len(png) > 10_000
    assert len(set(_pixel_bytes(png))) > 20  # lines, fill and text: not a blank canvas

    profile = tmp_path / "chromium-profile"
    html = Path(result["html"])
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=10000", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "Uncaught" not in proc.stderr, [line for line in proc.stderr.splitlines() if "CONSOLE" in line]

    starts = {name: dom.find(f'id="fig-{name}"') for name in FIGURES}
    assert all(pos >= 0 for pos in starts.values()), starts
    ordered = sorted(starts.items(), key=lambda kv: kv[1])
    segments = {name: dom[pos:end] for (name, pos), (_, end) in zip(ordered, [*ordered[1:], ("", len(dom))],
                                                                     strict=True)}
    for name, segment in segments.items():
        assert 'class="plot-container plotly"' in segment, name
        assert len(re.findall(r'<svg class="main-svg"', segment)) >= 2, name
        assert re.search(r'class="trace (scatter|bars)', segment), f"{name}: no trace was drawn"
        assert _marks(segment) > 0, f"{name}: no marker, line or bar with an area was drawn"
    assert len(re.findall(r'class="trace scatter', segments["equity"])) == 2  # equity above drawdown
    assert _marks(segments["backtest"]) >= 2 and _marks(segments["gantt"]) == 3  # one bar per task of the run
    assert "extract waited for a slot" in dom and "forecast 3x its median" in dom


def test_dag_statistics_from_the_real_rest_api(airflow_stack: AirflowStack, pmx_home: Path,
                                               tmp_path: Path) -> None:
    api = airflow_stack.api
    api.wait_for_dags(["env_sanity"])
    was_paused = bool((api.dag("env_sanity") or {}).get("is_paused"))
    run_id = f"perf_report__{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    api.set_paused("env_sanity", False)
    try:
        api.trigger("env_sanity", run_id=run_id)
        run = api.wait_for_run("env_sanity", run_id, timeout=600)
    finally:
        api.set_paused("env_sanity", was_paused)
    task_ids = {ti["task_id"] for ti in api.task_instances("env_sanity", run_id) if ti["start_date"]}

    result = build_report(tmp_path, airflow_api=api)

    assert result["dag_source"] == "api"
    with (tmp_path / "dag_runs.csv").open() as fh:
        mine = [r for r in csv.DictReader(fh) if r["run_id"] == run_id]
    assert len(mine) == 1 and mine[0]["dag_id"] == "env_sanity" and mine[0]["state"] == run["state"]
    assert float(mine[0]["duration_s"]) > 0
    report = json.loads((tmp_path / "performance_report.json").read_text())
    stats = report["dags"]["dags"]["env_sanity"]
    assert stats["runs"] >= 1 and stats["by_state"].get(run["state"], 0) >= 1
    reported = {t["task_id"] for t in report["dags"]["tasks"] if t["dag_id"] == "env_sanity"}
    assert task_ids and task_ids <= reported
