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
from typing import TYPE_CHECKING

import pytest

from foundation.pipeline_logger import get_logger
from monitoring.performance_dashboard import build_report
from portfolio.database_manager import DatabaseManager
from tests.support import require

if TYPE_CHECKING:
    from local_stack.stack import AirflowStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]  # see tests/wait_budget.py

FIGURES = ("equity", "pnl_by_ticker", "forecast_mape", "events", "dag_runs", "dag_durations")
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
    result = build_report(tmp_path / "report", include_airflow=False, png=True)

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
    assert len(re.findall(r'class="trace scatter', segments["equity"])) == 2  # equity above drawdown


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
