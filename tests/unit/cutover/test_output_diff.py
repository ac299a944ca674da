"""The parallel run's comparison of two pipeline homes (local_stack/cutover/output_diff.py), on small files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from local_stack.cutover.output_diff import (
    MISSING,
    TOLERATED_FIELDS,
    Side,
    diff_databases,
    diff_homes,
    diff_json,
)

SCHEMA = """
CREATE TABLE ohlcv (ticker TEXT NOT NULL, date TEXT NOT NULL, close REAL NOT NULL, ingested_at TEXT NOT NULL,
                    PRIMARY KEY (ticker, date));
CREATE TABLE etl_runs (run_id TEXT NOT NULL, ticker TEXT NOT NULL, status TEXT NOT NULL, message TEXT,
                       PRIMARY KEY (run_id, ticker));
CREATE TABLE signals (id INTEGER PRIMARY KEY AUTOINCREMENT, ticker TEXT NOT NULL, action TEXT NOT NULL);
"""
ROWS = [("AAPL", "2024-01-02", 185.5), ("AAPL", "2024-01-03", 184.25), ("MSFT", "2024-01-02", 370.0)]


def make_home(root: Path, run_id: str, stamp: str, rows=ROWS, signals=("BUY", "HOLD")) -> Path:
    (root / "data").mkdir(parents=True)
    with sqlite3.connect(root / "data" / "portfolio_maximizer.db") as conn:
        conn.executescript(SCHEMA)
        conn.executemany("INSERT INTO ohlcv VALUES (?, ?, ?, ?)", [(*r, stamp) for r in rows])
        conn.execute("INSERT INTO etl_runs VALUES (?, 'AAPL', 'success', ?)", (run_id, f"run {run_id} done"))
        conn.executemany("INSERT INTO signals (ticker, action) VALUES ('AAPL', ?)", [(s,) for s in signals])
    conn.close()
    checkpoint = root / "data" / "checkpoints" / f"job__{run_id.replace(':', '_')}__AAPL"
    checkpoint.mkdir(parents=True)
    (checkpoint / "load.json").write_text(json.dumps(
        {"created_at": stamp, "pipeline_id": f"job__{run_id}__AAPL", "sha256": stamp, "stage": "load",
         "state": {"rows_loaded": len(rows), "path": f"{root}/data/staging/{run_id}/AAPL.csv"}}))
    (root / "logs" / "automation").mkdir(parents=True)
    (root / "logs" / "automation" / "report.json").write_text(json.dumps(
        {"generated_at": stamp, "tickers": ["AAPL", "MSFT"], "summary": {"rows": len(rows), "seconds": 1.5}}))
    return root


def homes(tmp_path: Path, **airflow_changes):
    cron = make_home(tmp_path / "cron", "manual__2026-12-07T05:15:00", "2026-12-07T05:15:01Z")
    airflow = make_home(tmp_path / "airflow", "scheduled__2026-12-07T10:15:00+00:00", "2026-12-07T10:15:09Z",
                        **airflow_changes)
    return cron, airflow


def diff(cron: Path, airflow: Path):
    return diff_homes(cron, airflow, cron_run_ids=["manual__2026-12-07T05:15:00"],
                      airflow_run_ids=["scheduled__2026-12-07T10:15:00+00:00"])


def test_equal_homes_with_other_run_ids_timestamps_and_paths(tmp_path: Path) -> None:
    assert diff(*homes(tmp_path)) == []


def test_a_changed_value_names_table_key_column_and_both_values(tmp_path: Path) -> None:
    rows = [*ROWS[:1], ("AAPL", "2024-01-03", 184.5), ROWS[2]]
    found = diff(*homes(tmp_path, rows=rows))
    assert [(d.where, d.key, d.column, d.cron, d.airflow) for d in found] == [
        ("ohlcv", "ticker=AAPL, date=2024-01-03", "close", 184.25, 184.5)]
    assert found[0].line() == "ohlcv  key ticker=AAPL, date=2024-01-03  column close: cron 184.25  airflow 184.5"


def test_a_missing_row_and_the_documents_that_count_rows(tmp_path: Path) -> None:
    found = diff(*homes(tmp_path, rows=ROWS[:2]))
    by_where = {(d.where, d.key, d.column): (d.cron, d.airflow) for d in found}
    assert by_where[("ohlcv", "ticker=MSFT, date=2024-01-02", "(row)")] == (
        {"ticker": "MSFT", "date": "2024-01-02", "close": 370.0}, MISSING)
    assert by_where[("logs/automation/report.json", "$.summary.rows", "(value)")] == (3, 2)
    assert by_where[("data/checkpoints/AAPL/load.json", "$.state.rows_loaded", "(value)")] == (3, 2)
    assert len(found) == 3


def test_surrogate_ids_are_not_compared_but_the_rows_are(tmp_path: Path) -> None:
    assert diff(*homes(tmp_path, signals=("BUY", "HOLD"))) == []
    other = tmp_path / "other"
    other.mkdir()
    found = diff(*homes(other, signals=("BUY", "SELL")))
    assert [(d.key, d.column, d.cron, d.airflow) for d in found] == [
        ("ticker=AAPL, action=HOLD", "(row)", {"ticker": "AAPL", "action": "HOLD"}, MISSING),
        ("ticker=AAPL, action=SELL", "(row)", MISSING, {"ticker": "AAPL", "action": "SELL"})]


def test_tolerated_timestamps_only_at_their_names() -> None:
    assert "ingested_at" in TOLERATED_FIELDS and "created_at" in TOLERATED_FIELDS
    assert diff_json("f", {"created_at": "a", "x": {"updated_at": 1}},
                     {"created_at": "b", "x": {"updated_at": 2}}) == []
    found = diff_json("f", {"when": "2026-12-07T05:15:01Z"}, {"when": "2026-12-07T10:15:09Z"})
    assert [(d.key, d.column) for d in found] == [("$.when", "(value)")]


def test_run_ids_and_homes_in_strings_are_normalised_per_side() -> None:
    cron, airflow = Side(("manual__1",), Path("/c")), Side(("scheduled__2+00:00",), Path("/a"))
    assert diff_json("f", {"m": "/c/x/manual__1"}, {"m": "/a/x/scheduled__2_00_00"},
                     cron_side=cron, airflow_side=airflow) == []
    assert diff_json("f", {"m": "manual__1"}, {"m": "manual__1"}, cron_side=cron, airflow_side=airflow)


def test_lists_keys_and_floats() -> None:
    assert diff_json("f", [1.0, 2.0], [1.0 + 1e-12, 2.0]) == []
    found = diff_json("f", {"a": [1, 2], "b": 1}, {"a": [1], "c": 1})
    assert [(d.key, d.column, d.cron, d.airflow) for d in found] == [
        ("$.a[1]", "(item)", 2, MISSING), ("$.b", "(key)", 1, MISSING), ("$.c", "(key)", MISSING, 1)]


def test_a_table_or_file_on_one_side_only(tmp_path: Path) -> None:
    cron, airflow = homes(tmp_path)
    with sqlite3.connect(airflow / "data" / "portfolio_maximizer.db") as conn:
        conn.execute("CREATE TABLE extra (k TEXT PRIMARY KEY)")
    conn.close()
    (cron / "logs" / "automation" / "only_cron.json").write_text("{}")
    found = {(d.where, d.column, d.cron, d.airflow) for d in diff(cron, airflow)}
    assert found == {("extra", "(table)", MISSING, "present"),
                     ("logs/automation/only_cron.json", "(file)", "present", MISSING)}


def test_a_missing_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no database"):
        diff_databases(tmp_path / "a.db", tmp_path / "b.db")
