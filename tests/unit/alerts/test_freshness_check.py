"""The freshness check on the outbox: one miss per due instant, resolution by a newer event, gauges, failures."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts import alerting_config, outbox_worker
from alerts.freshness_check import check_freshness, main, run_freshness_check, verdict_json
from alerts.freshness_config import FreshnessSpec
from alerts.outbox import Outbox
from alerts.outbox_worker import OutboxWorker
from tests.unit.alerts.conftest import StandIns
from tests.unit.alerts.worker_support import run_until

NY = ZoneInfo("America/New_York")
OHLCV, FORECASTS = "portfolio_ohlcv", "portfolio_forecasts"
KEY = "pmx-freshness/ohlcv_daily/2026-11-27T12:15:00.000000Z"  # Wed 05:15 load + 26 trading-day hours


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


class FakeAssets:
    """Asset events as the tests record them."""

    def __init__(self) -> None:
        self.events: dict[str, list[datetime]] = {}
        self.asked: list[tuple[set[str], datetime]] = []

    def add(self, key: str, at: datetime) -> None:
        self.events.setdefault(key, []).append(at)

    def latest_events(self, keys: Iterable[str], until: datetime) -> dict[str, datetime]:
        wanted = set(keys)
        self.asked.append((wanted, until))
        out = {}
        for key in wanted:
            seen = [t for t in self.events.get(key, []) if t <= until]
            if seen:
                out[key] = max(seen)
        return out


class Broken:
    def latest_events(self, keys: Iterable[str], until: datetime) -> dict[str, datetime]:
        raise RuntimeError("metadata database is away")


SPECS = (
    FreshnessSpec(name="ohlcv_daily", asset=OHLCV, max_age="26h", calendar="XNYS",  # type: ignore[arg-type]
                  timezone="America/New_York", severity="error", channels=["slack"], runbook="#ohlcv_daily"),
    FreshnessSpec(name="forecasts_after_ohlcv", asset=FORECASTS, newer_than=OHLCV, grace="2h",  # type: ignore[arg-type]
                  calendar="XNYS", timezone="America/New_York", severity="warning", runbook="#forecasts_after_ohlcv"),
)


def misses(kind: str = "freshness_miss") -> list[dict[str, Any]]:
    with Outbox().connect() as conn:
        rows = conn.execute("SELECT * FROM incidents WHERE kind = ? ORDER BY id", (kind,)).fetchall()
    return [dict(r) for r in rows]


def check(assets: FakeAssets, now: datetime) -> list[Any]:
    return check_freshness(SPECS, Outbox(), assets, "http://ui/rb", now)


def test_a_holiday_raises_nothing_and_the_trading_day_one_miss(pmx_home: Path) -> None:
    assets = FakeAssets()
    assets.add(OHLCV, ny(2026, 11, 25, 5, 15))
    assets.add(FORECASTS, ny(2026, 11, 25, 5, 20))
    for at in (ny(2026, 11, 26, 12, 0), ny(2026, 11, 27, 7, 0)):  # Thanksgiving; Friday before the due time
        assert [v.state for v in check(assets, at)] == ["fresh", "fresh"]
    assert misses() == []
    verdicts = check(assets, ny(2026, 11, 27, 8, 0))
    assert [v.state for v in verdicts] == ["stale", "fresh"]
    rows = misses()
    assert [(r["dedup_key"], r["severity"], r["sla"], r["deadline_at"]) for r in rows] == [
        (KEY, "error", "ohlcv_daily", "2026-11-27T12:15:00.000000Z")]
    assert "due since 2026-11-27 07:15 EST (12:15 UTC)" in rows[0]["summary"]


def test_the_next_checks_submit_no_second_incident(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    submitted: list[str] = []
    import alerts.router as router

    real = router.submit
    def spy(incident: Any) -> None:
        submitted.append(incident.dedup_key)
        real(incident)

    monkeypatch.setattr(router, "submit", spy)
    assets = FakeAssets()
    assets.add(OHLCV, ny(2026, 11, 25, 5, 15))
    for minute in (0, 2, 4, 30):
        check(assets, ny(2026, 11, 27, 8, minute))
    assert submitted == [KEY] and len(misses()) == 1


def test_a_newer_event_resolves_the_miss_with_the_same_key(pmx_home: Path) -> None:
    assets = FakeAssets()
    assets.add(OHLCV, ny(2026, 11, 25, 5, 15))
    check(assets, ny(2026, 11, 27, 8, 0))
    check(assets, ny(2026, 11, 27, 9, 0))  # still stale, no newer event: stays open
    assert misses()[0]["resolved_at"] is None and misses("freshness_recovered") == []
    assets.add(OHLCV, ny(2026, 11, 27, 9, 15))
    assert check(assets, ny(2026, 11, 27, 9, 20))[0].state == "fresh"
    miss, recovered = misses()[0], misses("freshness_recovered")
    assert miss["resolved_at"] is not None and miss["late_seconds"] == 7200.0
    assert [(r["dedup_key"], r["severity"]) for r in recovered] == [(KEY, "error")]
    assert json.loads(recovered[0]["payload"])["details"]["new_event"] == "2026-11-27T14:15:00.000000Z"
    check(assets, ny(2026, 11, 27, 9, 30))
    assert len(misses("freshness_recovered")) == 1 and len(misses()) == 1


def test_forecasts_older_than_the_load_miss_after_the_grace(pmx_home: Path) -> None:
    assets = FakeAssets()
    assets.add(OHLCV, ny(2026, 12, 1, 5, 15))
    assets.add(FORECASTS, ny(2026, 11, 30, 5, 20))
    check(assets, ny(2026, 12, 1, 7, 0))
    assert misses() == []
    check(assets, ny(2026, 12, 1, 7, 30))
    assert [(r["sla"], r["dedup_key"], r["severity"]) for r in misses()] == [
        ("forecasts_after_ohlcv", "pmx-freshness/forecasts_after_ohlcv/2026-12-01T12:15:00.000000Z", "warning")]
    assets.add(FORECASTS, ny(2026, 12, 1, 7, 40))
    check(assets, ny(2026, 12, 1, 7, 45))
    assert [r["sla"] for r in misses("freshness_recovered")] == ["forecasts_after_ohlcv"]


def test_never_produced_assets_raise_nothing_and_publish_no_age(pmx_home: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from foundation import metrics

    sent: list[tuple[str, float, Any]] = []
    monkeypatch.setattr(metrics.StatsdClient, "gauge", lambda self, n, v, tags=None: sent.append((n, v, tags)))
    verdicts = check(FakeAssets(), ny(2026, 12, 2, 12, 0))
    assert [v.state for v in verdicts] == ["never_produced", "never_produced"]
    assert misses() == [] and sent == []


def test_each_asset_age_is_a_gauge_tagged_by_freshness_sla(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from foundation import metrics

    sent: list[tuple[str, float, Any]] = []
    monkeypatch.setattr(metrics.StatsdClient, "gauge", lambda self, n, v, tags=None: sent.append((n, v, tags)))
    assets = FakeAssets()
    assets.add(OHLCV, ny(2026, 12, 4, 5, 45))
    assets.add(FORECASTS, ny(2026, 12, 4, 5, 50))
    check(assets, ny(2026, 12, 7, 7, 0))
    assert sent == [
        ("freshness.age_seconds", 25.25 * 3600, {"sla": "ohlcv_daily", "asset": OHLCV}),
        ("freshness.age_seconds", 25.25 * 3600 - 300, {"sla": "forecasts_after_ohlcv", "asset": FORECASTS}),
    ]


def test_an_event_after_the_checked_instant_does_not_count(pmx_home: Path) -> None:
    assets = FakeAssets()
    assets.add(OHLCV, ny(2026, 11, 25, 5, 15))
    assets.add(OHLCV, ny(2026, 12, 7, 5, 15))  # "today": not there yet on 2026-11-27
    verdict = check(assets, ny(2026, 11, 27, 8, 0))[0]
    assert verdict.state == "stale" and verdict.last_event == ny(2026, 11, 25, 5, 15)
    assert assets.asked[-1] == ({OHLCV, FORECASTS}, ny(2026, 11, 27, 8, 0))
    assert verdict_json(verdict)["dedup_key"] == KEY


def test_one_failing_sla_is_counted_and_the_others_still_checked(pmx_home: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import alerts.freshness_check as fc

    failures: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(fc, "report_failure", lambda c, r, exc=None, **kw: failures.append((c, r, kw)))
    real = fc._predicate
    monkeypatch.setattr(fc, "_predicate", lambda s: (_ for _ in ()).throw(ValueError("calendar")) if s.name ==
                        "ohlcv_daily" else real(s))
    assets = FakeAssets()
    assets.add(OHLCV, ny(2026, 12, 1, 5, 15))
    assets.add(FORECASTS, ny(2026, 11, 30, 5, 20))
    verdicts = check(assets, ny(2026, 12, 1, 7, 30))
    assert [v.sla for v in verdicts] == ["forecasts_after_ohlcv"]
    assert failures == [("alerts", "freshness_check", {"level": "error", "sla": "ohlcv_daily"})]


def test_the_worker_counts_a_failing_check_and_carries_on(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    failures: list[tuple[str, str]] = []
    monkeypatch.setattr(outbox_worker, "report_failure", lambda c, r, exc=None, **kw: failures.append((c, r)))
    alerting_config.clear_cache()
    worker = OutboxWorker(assets=Broken())
    try:
        worker.check_freshness()  # does not raise
        worker.run_once()
    finally:
        worker.pool.shutdown(wait=True)
    assert failures.count(("alerts", "freshness_check")) == 2


def test_the_worker_checks_the_configured_freshness_slas(pmx_home: Path, fresh_sla_caches: None) -> None:
    assets = FakeAssets()
    assets.add(OHLCV, ny(2026, 11, 25, 5, 15))  # long stale on the wall clock of any later day
    verdicts = run_freshness_check(Outbox(), assets, now=ny(2026, 11, 27, 8, 0))
    assert {v.sla: v.state for v in verdicts} == {"ohlcv_daily": "stale", "forecasts_after_ohlcv": "never_produced"}
    worker = OutboxWorker(assets=assets)
    try:
        worker.check_freshness()
    finally:
        worker.pool.shutdown(wait=True)
    assert [r["sla"] for r in misses()] == ["ohlcv_daily"]  # the wall-clock check found the same due instant


def test_the_miss_and_its_recovery_are_delivered_on_the_same_channels(receivers: StandIns,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMX_STATSD_ENABLED", "false")
    alerting_config.clear_cache()
    assets = FakeAssets()
    worker = OutboxWorker(assets=FakeAssets())  # its own wall-clock check sees no events: delivery only
    try:
        assets.add(OHLCV, ny(2026, 11, 25, 5, 15))
        check(assets, ny(2026, 11, 27, 8, 0))
        run_until(worker, lambda: receivers.slack.messages())
        assets.add(OHLCV, ny(2026, 11, 27, 9, 15))
        check(assets, ny(2026, 11, 27, 9, 20))
        run_until(worker, lambda: len(receivers.slack.messages()) == 2)
    finally:
        worker.pool.shutdown(wait=True)
    first, second = receivers.slack.messages()
    assert first["text"].startswith(":red_circle: [ERROR] Freshness SLA ohlcv_daily missed: portfolio_ohlcv")
    assert second["text"].startswith(":white_check_mark: [RECOVERED] Freshness SLA ohlcv_daily recovered")
    assert {m["metadata"]["event_payload"]["dedup_key"] for m in (first, second)} == {KEY}
    assert receivers.pd.events() == []  # the SLA's own channels: slack only


def test_the_command_replays_several_instants_in_order(pmx_home: Path, fresh_sla_caches: None,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assets = FakeAssets()
    assets.add(OHLCV, ny(2026, 11, 25, 5, 15))  # the Wednesday before Thanksgiving
    at = ["2026-11-26T17:00:00Z", "2026-11-27T13:00:00+00:00", "2026-11-27T13:00:00"]  # naive = UTC
    assert main([arg for instant in at for arg in ("--at", instant)], source=assets) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ohlcv = [(v["now"], v["state"]) for v in lines if v["sla"] == "ohlcv_daily"]
    assert ohlcv == [("2026-11-26T17:00:00.000000Z", "fresh"), ("2026-11-27T13:00:00.000000Z", "stale"),
                     ("2026-11-27T13:00:00.000000Z", "stale")]
    assert [r["sla"] for r in misses()] == ["ohlcv_daily"]  # the repeated instant found the open miss


def test_the_command_rejects_an_instant_that_is_not_iso(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--at", "friday"])
    assert exc.value.code == 2 and "not an ISO-8601 instant: 'friday'" in capsys.readouterr().err
