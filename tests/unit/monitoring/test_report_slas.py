"""The report's SLA section from a real outbox: misses and lateness, early warnings, the error budget."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.incident import Incident
from alerts.outbox import Outbox
from alerts.sla_config import SlaSpec
from monitoring.performance_dashboard import build_report
from monitoring.report_slas import error_budgets, sla_section

OBJECTIVE = 0.9
SPECS = [SlaSpec(name="etl_ready", dag_id="daily_etl", reference="queued", interval=timedelta(minutes=45),
                 runbook="#etl", objective=OBJECTIVE, slo_window=timedelta(days=7)),
         SlaSpec(name="trader_cycle", dag_id="auto_trader", reference="queued", interval=timedelta(minutes=5),
                 runbook="#t")]
# (run id, dag, sla, deadline minutes ago, late seconds once recovered (None: still open), submitted days ago)
MISSES = [("r1", "daily_etl", "etl_ready", 120, 600.0, 0),
          ("r2", "daily_etl", "etl_ready", 5, None, 0),
          ("r3", "daily_etl", "etl_ready", 14_400, 90.0, 10),  # in the 30-day period, outside the 7-day window
          ("r9", "auto_trader", "trader_cycle", 60, 30.0, 0)]
WARNINGS = [("r2", "daily_etl", "etl_ready"), ("r5", "daily_etl", "etl_ready")]
# (days ago the run ended, state) of daily_etl
RUNS = [(d, "success") for d in (1, 2, 3, 4, 5, 6)] + [(2.5, "failed"), (0.1, "failed"), (10, "success"),
                                                        (11, "failed"), (0, "running")]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _key(dag: str, sla: str, run_id: str) -> str:
    return f"pmx-sla/{dag}/{sla}/{run_id}"


def _seed(outbox: Outbox, now: datetime) -> None:
    for run_id, dag, sla, ago, late, days in MISSES:
        deadline = _iso(now - timedelta(minutes=ago))
        miss_id, _ = outbox.add_incident(Incident(
            kind="sla_miss", dedup_key=_key(dag, sla, run_id), severity="critical", summary="late", dag_id=dag,
            run_id=run_id, details={"sla": sla, "deadline": deadline, "diagnosis": f"{run_id}: extract slow"}))
        if late is not None:
            outbox.resolve_miss(miss_id, Incident(kind="sla_recovered", dedup_key=_key(dag, sla, run_id),
                                                  severity="info", summary="ok", dag_id=dag, run_id=run_id,
                                                  details={"sla": sla, "late_seconds": late}), late)
        if days:
            with outbox.transaction() as conn:  # raw access: age the miss
                conn.execute("UPDATE incidents SET submitted_at = ? WHERE id = ?",
                             (time.time() - days * 86_400, miss_id))
    for run_id, dag, sla in WARNINGS:
        outbox.add_incident(Incident(
            kind="sla_warning", dedup_key=_key(dag, sla, run_id), severity="warning", summary="may be late",
            dag_id=dag, run_id=run_id,
            details={"sla": sla, "deadline": _iso(now + timedelta(minutes=10)),
                     "projected_finish": _iso(now + timedelta(minutes=25)), "diagnosis": f"{run_id}: queue backlog"}))


def _runs(now: datetime) -> list[dict[str, Any]]:
    return [{"dag_id": "daily_etl", "run_id": f"e{i}", "state": state,
             "start_date": _iso(now - timedelta(days=d, hours=1)),
             "end_date": None if state == "running" else _iso(now - timedelta(days=d))}
            for i, (d, state) in enumerate(RUNS)]


def test_misses_warnings_and_lateness(state_backend: str) -> None:
    outbox = Outbox()
    _seed(outbox, datetime.now(UTC))
    now = datetime.now(UTC)
    section = sla_section(_runs(now), now=now, since=now - timedelta(days=30), outbox=outbox, specs=SPECS)
    by_run = {m["run_id"]: m for m in section["misses"]}
    assert set(by_run) == {m[0] for m in MISSES}
    for run_id, _, _, ago, late, _ in MISSES:
        if late is not None:
            assert by_run[run_id]["late_seconds"] == late and not by_run[run_id]["still_late"]
        else:  # still running: late by now - deadline
            assert by_run[run_id]["still_late"]
            assert by_run[run_id]["late_seconds"] == pytest.approx(ago * 60, abs=5)
        assert by_run[run_id]["diagnosis"] == f"{run_id}: extract slow"
    etl = section["by_dag"]["daily_etl"]
    lates = [by_run[m[0]]["late_seconds"] for m in MISSES if m[1] == "daily_etl"]
    assert etl["misses"] == len(lates) and etl["max_late_s"] == max(lates)
    assert etl["mean_late_s"] == pytest.approx(sum(lates) / len(lates))
    warned = {w["run_id"]: w for w in section["warnings"]}
    assert warned["r2"]["then_missed"] and not warned["r5"]["then_missed"]
    assert warned["r5"]["diagnosis"] == "r5: queue backlog" and warned["r5"]["projected_finish"]
    assert (etl["warnings"], etl["warned_misses"]) == (2, 1)
    assert section["by_dag"]["auto_trader"] == {"misses": 1, "warnings": 0, "warned_misses": 0, "max_late_s": 30.0,
                                                "mean_late_s": 30.0}


def test_error_budget_over_the_window(state_backend: str) -> None:
    outbox = Outbox()
    _seed(outbox, datetime.now(UTC))
    now = datetime.now(UTC)
    section = sla_section(_runs(now), now=now, since=now - timedelta(days=30), outbox=outbox, specs=SPECS)
    (budget,) = section["budgets"]  # trader_cycle has no objective
    missed = sum(1 for m in MISSES if m[2] == "etl_ready" and m[5] < 7)
    finished = sum(1 for d, state in RUNS if state != "running" and d <= 7)
    assert (budget["sla"], budget["misses"], budget["finished_runs"]) == ("etl_ready", missed, finished)
    assert budget["budget_remaining"] == pytest.approx(1 - (missed / finished) / (1 - OBJECTIVE))
    assert budget["window_days"] == pytest.approx(7) and budget["error_window_days"] == 7
    short = sla_section(_runs(now), now=now, since=now - timedelta(days=3), outbox=outbox, specs=SPECS)
    (cut,) = short["budgets"]  # the report's period is shorter than the window: the window is cut to it
    assert cut["window_days"] == pytest.approx(3)
    assert cut["finished_runs"] == sum(1 for d, state in RUNS if state != "running" and d <= 3)  # the boundary is in


def test_no_outbox_file_is_a_note_and_creates_nothing(pmx_home: Path, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "absent" / "outbox.sqlite")
    now = datetime.now(UTC)
    section = sla_section([], now=now, since=now - timedelta(days=30), outbox=outbox, specs=SPECS)
    assert section["misses"] == section["warnings"] == [] and "no alert outbox yet" in section["notes"][0]
    assert not (tmp_path / "absent").exists()


def test_the_report_shows_the_sla_section_and_alerts_on_an_overspent_budget(pmx_home: Path,
                                                                            tmp_path: Path) -> None:
    from foundation.pipeline_logger import get_logger

    outbox = Outbox()
    _seed(outbox, datetime.now(UTC))
    log = get_logger("listener")
    now = datetime.now(UTC)
    for run in _runs(now):
        log.log_event(f"dag_run_{run['state']}", **run)
    result = build_report(tmp_path, include_airflow=False, outbox=outbox)
    report = json.loads((tmp_path / "performance_report.json").read_text())
    assert result["counts"]["sla_misses"] == len(MISSES) and result["counts"]["sla_warnings"] == len(WARNINGS)
    budgets = {b["sla"]: b for b in report["slas"]["budgets"]}
    assert budgets["daily_etl_ready"]["dag_id"] == "daily_etl"  # the shipped config/slas.yml
    spent = [a for a in result["alerts"] if a["alert"] == "error_budget"]
    assert [a["subject"] for a in spent] == [b for b, v in budgets.items() if (v["budget_remaining"] or 0) < 0]
    html = (tmp_path / "performance_report.html").read_text()
    assert "r1: extract slow" in html and "r5: queue backlog" in html and 'id="fig-error_budget"' in html


@pytest.mark.parametrize("runs, misses, expected", [(0, 0, None), (0, 2, 1.0), (4, 1, 0.25), (2, 3, 1.0)],
                         ids=["nothing", "misses-only", "ratio", "capped"])
def test_error_ratio_is_capped_like_the_prometheus_rule(runs: int, misses: int, expected: float | None) -> None:
    now = time.time()
    rows = [{"dag_id": "daily_etl", "run_id": f"r{i}", "state": "success", "end_date": _iso(datetime.now(UTC))}
            for i in range(runs)]
    missed = [{"sla": "etl_ready", "submitted_at": now} for _ in range(misses)]
    (budget,) = error_budgets(SPECS, missed, rows, now=now + 1, since=now - 86_400)
    if expected is None:
        assert budget["budget_remaining"] is None
    else:
        assert budget["budget_remaining"] == pytest.approx(1 - expected / (1 - OBJECTIVE))
