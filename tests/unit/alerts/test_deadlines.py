"""SLA spec -> Deadline Alerts (which reference, which budget, which runs), and the callback's incident."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts import alerting_config, sla_config
from alerts.deadlines import (
    applies,
    build_miss_incident,
    deadline_alerts,
    handle_deadline_miss,
    on_deadline_missed,
)
from alerts.outbox import Outbox
from alerts.sla_config import SlaSpec, load_sla_config

UI = "http://airflow.example:8080"
RUNBOOK = f"{UI}/pmx-sla/runbook"


@pytest.fixture(autouse=True)
def _fresh() -> None:
    sla_config.clear_cache()
    alerting_config.clear_cache()


def spec(**fields: Any) -> SlaSpec:
    base: dict[str, Any] = {
        "name": "s",
        "dag_id": "d",
        "reference": "queued",
        "interval": "5m",
        "runbook": "#s",
    }
    base.update(fields)
    return SlaSpec(**base)


def _refs(alerts: list[Any]) -> list[tuple[str, timedelta, str]]:
    return [(type(a.reference).__name__, a.interval, a.callback.kwargs["variant"]) for a in alerts]


def test_schedule_anchored_slas_get_a_scheduled_and_a_manual_alert(pmx_home: Path) -> None:
    etl = load_sla_config().by_name("daily_etl_ready")
    assert etl is not None
    assert _refs(deadline_alerts(etl)) == [
        ("DagRunLogicalDateDeadline", timedelta(minutes=45), "scheduled"),
        ("RunQueuedAt", timedelta(minutes=45), "unscheduled"),
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"reference": "queued", "interval": "5m"},
            [("RunQueuedAt", timedelta(minutes=5), "all")],
        ),
        (
            {"reference": "scheduled", "interval": "2h", "manual_interval": "30m"},
            [
                ("DagRunLogicalDateDeadline", timedelta(hours=2), "scheduled"),
                ("RunQueuedAt", timedelta(minutes=30), "unscheduled"),
            ],
        ),
        (
            {"reference": "average_runtime", "interval": "10m", "max_runs": 5, "min_runs": 2},
            [("AverageRuntimeDeadline", timedelta(minutes=10), "all")],
        ),
    ],
    ids=["queued", "scheduled", "average-runtime"],
)
def test_each_reference_type(fields: dict[str, Any], expected: list[tuple[str, timedelta, str]]) -> None:
    alerts = deadline_alerts(spec(**fields))
    assert _refs(alerts) == expected
    assert all(a.callback.path == "alerts.deadlines.on_deadline_missed" for a in alerts)
    assert all(type(a.callback).__name__ == "AsyncCallback" for a in alerts)


def test_average_runtime_keeps_its_run_counts() -> None:
    (alert,) = deadline_alerts(spec(reference="average_runtime", interval="10m", max_runs=5, min_runs=2))
    assert (alert.reference.max_runs, alert.reference.min_runs) == (5, 2)


def test_deadline_alerts_survive_airflow_serialization() -> None:
    from airflow.serialization.decoders import decode_deadline_alert
    from airflow.serialization.encoders import encode_deadline_alert

    for alert in deadline_alerts(spec(reference="scheduled", interval="1h", channels=["slack"])):
        decoded = decode_deadline_alert(encode_deadline_alert(alert))
        assert decoded.interval == alert.interval
        assert decoded.callback.kwargs == alert.callback.kwargs


def test_dag_kwargs_attaches_the_configured_deadlines(pmx_home: Path) -> None:
    from orchestration.dag_defaults import dag_kwargs

    names = [a.name for a in dag_kwargs("synthetic_refresh")["deadline"]]
    assert names == [
        "synthetic_refresh_done (scheduled runs)",
        "synthetic_refresh_done (manual runs)",
        "synthetic_refresh_runtime (every run)",
    ]
    assert [a.name for a in dag_kwargs("auto_trader")["deadline"]] == ["auto_trader_cycle (every run)"]


@pytest.mark.parametrize(
    ("variant", "run_type", "expected"),
    [
        ("scheduled", "scheduled", True),
        ("scheduled", "manual", False),
        ("scheduled", "asset_triggered", False),
        ("unscheduled", "manual", True),
        ("unscheduled", "asset_triggered", True),
        ("unscheduled", "scheduled", False),
        ("all", "manual", True),
        ("all", "scheduled", True),
        ("all", "backfill", False),
        ("scheduled", "backfill", False),
    ],
    ids=lambda v: str(v),
)
def test_which_alert_counts_for_which_run(variant: str, run_type: str, expected: bool) -> None:
    assert applies(variant, run_type) is expected


def _context(run_type: str = "manual", logical: str | None = None) -> dict[str, Any]:
    return {
        "dag_run": {
            "dag_id": "d",
            "dag_run_id": "manual__1",
            "run_type": run_type,
            "logical_date": logical,
            "queued_at": "2026-03-02T10:00:00Z",
            "state": "running",
        },
        "deadline": {"id": "x", "deadline_time": datetime(2026, 3, 2, 10, 5, tzinfo=UTC)},
    }


def _kwargs(**extra: Any) -> dict[str, Any]:
    base = {
        "sla": "s",
        "dag_id": "d",
        "severity": "critical",
        "variant": "unscheduled",
        "reference": "scheduled",
        "budget_seconds": 300.0,
        "at": None,
        "timezone": None,
        "channels": ["pagerduty"],
        "runbook": "#s",
        "description": "desc",
    }
    base.update(extra)
    return base


def test_the_miss_incident_of_a_manual_run() -> None:
    inc = build_miss_incident(_context(), _kwargs(), UI, RUNBOOK)
    assert inc.kind == "sla_miss" and inc.dedup_key == "pmx-sla/d/s/manual__1" and inc.severity == "critical"
    assert inc.summary == (
        "SLA s missed: d run manual__1 not finished within 5m of being queued (manual run) "
        "(deadline 2026-03-02T10:05:00.000000Z)"
    )
    assert inc.links == {
        "run": f"{UI}/dags/d/runs/manual__1",
        "runbook": f"{RUNBOOK}#s",
        "sla_misses": f"{UI}/pmx-sla/ui?dag_id=d",
    }
    assert inc.details["deadline"] == "2026-03-02T10:05:00.000000Z" and inc.details["channels"] == [
        "pagerduty"
    ]
    assert inc.details["logical_date"] is None and inc.details["run_type"] == "manual"


def test_a_time_of_day_miss_names_the_clock_time() -> None:
    kw = _kwargs(variant="scheduled", reference="time_of_day", at="06:00", timezone="America/New_York")
    inc = build_miss_incident(_context("scheduled", "2026-03-02T10:15:00Z"), kw, UI, RUNBOOK)
    assert "not finished by 06:00 America/New_York" in inc.summary


def test_the_deadline_may_arrive_as_text() -> None:
    context = _context()
    context["deadline"]["deadline_time"] = "2026-03-02T10:05:00+00:00"
    assert (
        build_miss_incident(context, _kwargs(), UI, RUNBOOK).details["deadline"]
        == "2026-03-02T10:05:00.000000Z"
    )


def test_the_callback_records_the_miss_once(pmx_home: Path) -> None:
    first = handle_deadline_miss(_context(), _kwargs())
    again = asyncio.run(on_deadline_missed(context=_context(), **_kwargs()))  # a triggerer restart re-runs it
    assert first.startswith("recorded pmx-sla/d/s/manual__1") and again == first
    with Outbox().connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 1


def test_the_callback_ignores_an_alert_that_does_not_apply(pmx_home: Path) -> None:
    result = handle_deadline_miss(
        _context("scheduled", "2026-03-02T10:00:00Z"), _kwargs(variant="unscheduled")
    )
    assert result.startswith("not applicable")
    with Outbox().connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 0


def test_the_callback_raises_when_the_miss_cannot_be_stored(
    pmx_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = pmx_home / "blocker"
    blocker.write_text("x")
    monkeypatch.setenv("PMX_ALERTS_OUTBOX", str(blocker / "outbox.sqlite"))
    with pytest.raises(OSError):
        handle_deadline_miss(_context(), _kwargs())
