"""The error monitor's shared state: sliding windows, streaks, hysteresis and cooldown, across processes.

The store's tests run on both backends (``state_backend``: SQLite under ``pmx_home``, then a throw-away
PostgreSQL database named by ``PMX_ERROR_MONITOR_DSN``).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from pathlib import Path

import pytest

from foundation.sql_store import StoreLocation
from listeners.config import ErrorMonitorSettings, Rules, StreakRule, WindowRule
from listeners.error_monitor import ThresholdStore
from tests.support import SPAWN, run_in_processes

T0 = 1_800_000_000.0
MIN = 60.0


def _settings(**rules: object) -> ErrorMonitorSettings:
    defaults = {"dag_failures": WindowRule(threshold=3, window_minutes=60, cooldown_minutes=30),
                "consecutive_failed_runs": StreakRule(threshold=2, cooldown_minutes=60)}
    return ErrorMonitorSettings(rules=Rules(**{**defaults, **rules}))


@pytest.fixture
def store(state_backend: str) -> ThresholdStore:
    return ThresholdStore(_settings())  # error_monitor.state_path under pmx_home, or PMX_ERROR_MONITOR_DSN


def _fail(store: ThresholdStore, n: int, at: float, key: str = "daily_etl") -> list:
    uid = f"{key}/t/r{n}/-1/1"
    return store.record("dag_failures", key, uid, dag_id=key, task_id="t", run_id=f"r{n}", now=at)


def test_the_threshold_fires_one_alert(store: ThresholdStore) -> None:
    assert _fail(store, 1, T0) == [] and _fail(store, 2, T0 + MIN) == []
    (alert,) = _fail(store, 3, T0 + 2 * MIN)
    assert (alert.rule, alert.key, alert.status, alert.value, alert.threshold) == (
        "dag_failures", "daily_etl", "firing", 3, 3)
    assert alert.dedup_key == f"pmx-errmon/dag_failures/daily_etl/{int(T0 + 2 * MIN)}"
    assert "3 failed tasks in the last 60 min" in alert.summary


def test_an_open_alert_does_not_repeat_while_failures_continue(store: ThresholdStore) -> None:
    fired = [a for i in range(40) for a in _fail(store, i, T0 + i * MIN)]  # a task failing every minute
    assert len(fired) == 1  # 40 minutes of flapping: one alert


def test_the_alert_rearms_once_the_window_drained_and_the_cooldown_passed(store: ThresholdStore) -> None:
    assert len([a for i in range(3) for a in _fail(store, i, T0 + i)]) == 1
    later = T0 + 61 * MIN  # the window (60 min) is empty again
    fired = [a for i in range(3) for a in _fail(store, 10 + i, later + i)]
    assert len(fired) == 1 and fired[0].dedup_key != f"pmx-errmon/dag_failures/daily_etl/{int(T0 + 2)}"


def test_cooldown_suppresses_a_new_alert_right_after_the_window_drained(state_backend: str) -> None:
    rule = WindowRule(threshold=2, window_minutes=5, cooldown_minutes=30)
    store = ThresholdStore(_settings(dag_failures=rule))
    assert len(_fail(store, 1, T0) + _fail(store, 2, T0 + 1)) == 1
    assert _fail(store, 3, T0 + 10 * MIN) + _fail(store, 4, T0 + 10 * MIN + 1) == []  # drained, in cooldown
    (alert,) = _fail(store, 5, T0 + 31 * MIN) + _fail(store, 6, T0 + 31 * MIN + 1)
    assert alert.value == 2
    snap = store.snapshot(now=T0 + 31 * MIN + 2)
    assert snap["alerts"][0]["suppressed"] == 1 and snap["alerts"][0]["fired_count"] == 2


def test_the_same_failure_reported_twice_counts_once(store: ThresholdStore) -> None:
    for _ in range(5):
        assert _fail(store, 1, T0) == []
    assert store.snapshot(now=T0)["windows"] == [
        {"rule": "dag_failures", "key": "daily_etl", "count": 1, "threshold": 3, "window_minutes": 60.0}]


def test_windows_are_per_dag(store: ThresholdStore) -> None:
    for i in range(2):
        _fail(store, i, T0, key="a")
        _fail(store, i, T0, key="b")
    assert _fail(store, 9, T0, key="c") == []
    assert [a.key for a in _fail(store, 2, T0, key="a")] == ["a"]


def test_failed_runs_in_a_row_fire_then_a_success_resolves(store: ThresholdStore) -> None:
    assert store.dag_run_finished("etl", "r1", failed=True, now=T0) == []
    (fired,) = store.dag_run_finished("etl", "r2", failed=True, now=T0 + MIN)
    assert (fired.status, fired.value, fired.severity) == ("firing", 2, "critical")
    assert store.dag_run_finished("etl", "r3", failed=True, now=T0 + 2 * MIN) == []  # still open
    (resolved,) = store.dag_run_finished("etl", "r4", failed=False, now=T0 + 3 * MIN)
    assert (resolved.status, resolved.dedup_key) == ("resolved", fired.dedup_key)
    assert "succeeded after 3 failed runs" in resolved.summary
    assert store.dag_run_finished("etl", "r4", failed=False, now=T0 + 4 * MIN) == []  # same run again
    assert store.snapshot(now=T0 + 4 * MIN)["streaks"] == []


def test_a_run_notified_twice_counts_once(store: ThresholdStore) -> None:
    store.dag_run_finished("etl", "r1", failed=True, now=T0)
    assert store.dag_run_finished("etl", "r1", failed=True, now=T0 + 1) == []
    streaks = store.snapshot(now=T0 + 2)["streaks"]
    assert streaks == [{"dag_id": "etl", "failed_in_a_row": 1, "last_run_id": "r1"}]


def test_a_flapping_dag_alerts_once_per_cooldown(store: ThresholdStore) -> None:
    fired = []
    for i in range(10):  # fail, fail, success, fail, fail, success... every minute
        ok = i % 3 == 2
        fired += [a for a in store.dag_run_finished("etl", f"r{i}", failed=not ok, now=T0 + i * MIN)
                  if a.status == "firing"]
    assert len(fired) == 1


def test_disabled_rules_and_monitor_record_nothing(tmp_path: Path) -> None:
    store = ThresholdStore(_settings(dag_failures=WindowRule(threshold=1, window_minutes=5, enabled=False)),
                           tmp_path / "s.sqlite")
    assert _fail(store, 1, T0) == []
    off = ThresholdStore(ErrorMonitorSettings(enabled=False), tmp_path / "off.sqlite")
    assert off.dag_run_finished("etl", "r1", failed=True) == [] and not (tmp_path / "off.sqlite").exists()


def _hammer(location: StoreLocation, worker: int, out: multiprocessing.Queue) -> None:
    store = ThresholdStore(_settings(dag_failures=WindowRule(threshold=10, window_minutes=60)), location)
    fired = 0
    for i in range(10):
        fired += len(store.record("dag_failures", "etl", f"w{worker}/{i}", dag_id="etl", now=T0 + i))
    out.put(fired)


def test_processes_crossing_the_threshold_together_fire_exactly_once(state_backend: str) -> None:
    location = ErrorMonitorSettings().location()
    fired = run_in_processes(_hammer, [(location, w) for w in range(4)])
    assert sum(fired) == 1  # type: ignore[arg-type]  # 40 failures, threshold 10, one alert in total
    snap = ThresholdStore(_settings(), location).snapshot(now=T0 + 20)
    assert snap["windows"][0]["count"] == 40


KEYS = 30  # DAGs failing at once: each is one race between the two processes


def _fail_dags(location: StoreLocation, failures: int, start: multiprocessing.synchronize.Barrier,
               out: multiprocessing.Queue) -> None:
    store = ThresholdStore(_settings(), location)  # dag_failures: threshold 3
    store.connect()
    start.wait(60)
    fired = [a.key for k in range(KEYS) for n in range(failures)
             for a in _fail(store, n + 10 * failures, T0 + n, key=f"dag{k}")]
    out.put(fired)


def test_two_processes_recording_two_and_one_failures_fire_exactly_once_per_dag(state_backend: str) -> None:
    location = ErrorMonitorSettings().location()
    start = SPAWN.Barrier(2)
    two, one = run_in_processes(_fail_dags, [(location, 2, start), (location, 1, start)])
    assert sorted(two + one) == sorted(f"dag{k}" for k in range(KEYS))  # type: ignore[operator]
    counts = {w["key"]: w["count"] for w in ThresholdStore(_settings(), location).snapshot(now=T0 + 5)["windows"]}
    assert counts == {f"dag{k}": 3 for k in range(KEYS)}  # every failure of both processes counted


def test_after_a_fork_the_child_drops_the_connection_and_the_parent_keeps_it(state_backend: str) -> None:
    store = ThresholdStore(_settings())
    assert _fail(store, 1, T0) == []
    child = os.fork()
    if child == 0:  # what the listener's fork hook runs, then the child's exit
        store.after_fork()
        gc.collect()
        os._exit(0)
    assert os.waitpid(child, 0)[1] == 0
    assert _fail(store, 2, T0 + 1) == [] and len(_fail(store, 3, T0 + 2)) == 1  # the parent's session still works
