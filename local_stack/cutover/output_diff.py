"""Compare the outputs of the same job run by cron in one pipeline home and by its DAG in another.

Pure functions over files: the domain database (``data/portfolio_maximizer.db``, table by table, row by row),
``logs/automation/*.json`` and the ETL checkpoints (``data/checkpoints/<pipeline_id>/<stage>.json``). What may
legitimately differ between the two runs is listed once, in :data:`TOLERATED_FIELDS` (a column of any table or
a key at any depth of a JSON document), and every string has each side's run id replaced by ``{run_id}`` first
(a message naming its run) and its pipeline home by ``{home}`` (a path under it). Floats are equal within
:data:`FLOAT_REL_TOL`. Everything else must be equal.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# column / JSON key -> why its value differs between a cron run and a DAG run of the same job
TOLERATED_FIELDS: dict[str, str] = {
    "run_id": "cron: manual__<start time>; Airflow: the DAG run's id",
    "pipeline_id": "<entrypoint or dag_id>__<run_id>__<ticker>",
    "created_at": "wall-clock time of the write",
    "updated_at": "wall-clock time of the write",
    "ingested_at": "wall-clock time of the load",
    "started_at": "wall-clock time of the run",
    "finished_at": "wall-clock time of the run",
    "generated_at": "wall-clock time of the report",
    "duration_s": "elapsed time",
    "seconds": "elapsed time",
    "fit_seconds": "elapsed time of a model fit",
    "sha256": "a checkpoint's digest of its state, which names the run id and the home (the state is compared)",
}
# an INTEGER PRIMARY KEY AUTOINCREMENT column numbers rows in insertion order, which depends on the run order
SURROGATE_KEY = "id"
FLOAT_REL_TOL = 1e-9
RUN_ID_PLACEHOLDER = "{run_id}"
HOME_PLACEHOLDER = "{home}"
SQLITE_INTERNAL = ("sqlite_",)
MISSING = "(missing)"


@dataclass(frozen=True)
class Difference:
    """One value that differs: where (``table``, or a file), which row or document (``key``), which column."""

    where: str
    key: str
    column: str
    cron: Any
    airflow: Any

    def line(self) -> str:
        """One line for the report."""
        return (f"{self.where}  key {self.key}  column {self.column}: "
                f"cron {_show(self.cron)}  airflow {_show(self.airflow)}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"where": self.where, "key": self.key, "column": self.column, "cron": self.cron,
                "airflow": self.airflow}


def _show(value: Any) -> str:
    return value if value == MISSING else json.dumps(value, default=str)


def run_id_variants(run_id: str) -> list[str]:
    """A run id as it appears in outputs: as is, and as a file-name part (``:`` and ``+`` become ``_``)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
    return sorted({run_id, safe}, key=len, reverse=True)


@dataclass(frozen=True)
class Side:
    """What identifies one side's run in its outputs: its run id(s) and its pipeline home."""

    run_ids: tuple[str, ...] = ()
    home: Path | None = None


class _Normalizer:
    def __init__(self, side: Side) -> None:
        self.subs = [(str(side.home), HOME_PLACEHOLDER)] if side.home else []
        self.subs += [(v, RUN_ID_PLACEHOLDER) for r in side.run_ids if r for v in run_id_variants(r)]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            for text, placeholder in self.subs:
                value = value.replace(text, placeholder)
        return value


def _equal(a: Any, b: Any) -> bool:
    numbers = isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool)
    if numbers and (isinstance(a, float) or isinstance(b, float)):
        return math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


# -- databases ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Table:
    columns: list[str]
    key: list[str]
    rows: list[dict[str, Any]]


def _read_tables(db: Path, norm: _Normalizer, tolerated: Mapping[str, str]) -> dict[str, _Table]:
    if not db.exists():
        raise FileNotFoundError(f"no database at {db}")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                 if not r[0].startswith(SQLITE_INTERNAL)]
        tables: dict[str, _Table] = {}
        for name in names:
            info = conn.execute(f'PRAGMA table_info("{name}")').fetchall()  # cid, name, type, notnull, dflt, pk
            columns = [c[1] for c in info if c[1] not in tolerated and c[1] != SURROGATE_KEY]
            key = [c[1] for c in sorted(info, key=lambda c: c[5]) if c[5] and c[1] in columns]
            cursor = conn.execute(f'SELECT * FROM "{name}"')
            names_all = [d[0] for d in cursor.description]
            rows = [{c: norm(v) for c, v in zip(names_all, row, strict=True) if c in columns} for row in cursor]
            tables[name] = _Table(columns, key or columns, rows)
        return tables
    finally:
        conn.close()


def _key_text(key: Sequence[str], row: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={row[k]}" for k in key)


def _row_sort_key(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def _diff_rows(table: str, key: Sequence[str], columns: Sequence[str], cron: list[dict[str, Any]],
               airflow: list[dict[str, Any]]) -> list[Difference]:
    by_key: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = defaultdict(lambda: ([], []))
    for row in cron:
        by_key[_key_text(key, row)][0].append(row)
    for row in airflow:
        by_key[_key_text(key, row)][1].append(row)
    out: list[Difference] = []
    for text in sorted(by_key):
        c_rows, a_rows = by_key[text]
        if len(c_rows) == 1 and len(a_rows) == 1:
            out += [Difference(table, text, col, c_rows[0][col], a_rows[0][col]) for col in columns
                    if not _equal(c_rows[0][col], a_rows[0][col])]
            continue
        # a key that is not unique (or a row on one side only): compare the rows as multisets
        unmatched = sorted(a_rows, key=_row_sort_key)
        for row in sorted(c_rows, key=_row_sort_key):
            match = next((i for i, other in enumerate(unmatched)
                          if all(_equal(row[c], other[c]) for c in columns)), None)
            if match is None:
                out.append(Difference(table, text, "(row)", row, MISSING))
            else:
                unmatched.pop(match)
        out += [Difference(table, text, "(row)", MISSING, row) for row in unmatched]
    return out


def diff_databases(cron_db: Path, airflow_db: Path, *, cron: Side = Side(), airflow: Side = Side(),
                   tolerated: Mapping[str, str] = TOLERATED_FIELDS) -> list[Difference]:
    """Every difference between two SQLite databases: tables, columns, then rows by primary key.

    The key of a table is its primary key without the tolerated columns and the surrogate ``id``; a table left
    without one is compared as a multiset of rows.
    """
    c_tables = _read_tables(cron_db, _Normalizer(cron), tolerated)
    a_tables = _read_tables(airflow_db, _Normalizer(airflow), tolerated)
    out: list[Difference] = []
    for name in sorted(set(c_tables) | set(a_tables)):
        if name not in c_tables or name not in a_tables:
            out.append(Difference(name, "-", "(table)", "present" if name in c_tables else MISSING,
                                  "present" if name in a_tables else MISSING))
            continue
        c, a = c_tables[name], a_tables[name]
        if c.columns != a.columns:
            for col in sorted(set(c.columns) ^ set(a.columns)):
                out.append(Difference(name, "-", col, "present" if col in c.columns else MISSING,
                                      "present" if col in a.columns else MISSING))
            continue
        out += _diff_rows(name, c.key, c.columns, c.rows, a.rows)
    return out


# -- JSON documents -------------------------------------------------------------------------------------------

def diff_json(where: str, cron: Any, airflow: Any, *, cron_side: Side = Side(), airflow_side: Side = Side(),
              tolerated: Mapping[str, str] = TOLERATED_FIELDS, path: str = "$") -> list[Difference]:
    """Every difference between two JSON values; keys in ``tolerated`` are skipped at any depth."""
    return _diff_value(where, path, cron, airflow, _Normalizer(cron_side), _Normalizer(airflow_side), tolerated)


def _diff_value(where: str, path: str, cron: Any, airflow: Any, cn: _Normalizer, an: _Normalizer,
                tolerated: Mapping[str, str]) -> list[Difference]:
    if isinstance(cron, dict) and isinstance(airflow, dict):
        out: list[Difference] = []
        for k in sorted(set(cron) | set(airflow)):
            if k in tolerated:
                continue
            sub = f"{path}.{k}"
            if k not in cron or k not in airflow:
                out.append(Difference(where, sub, "(key)", cn(cron[k]) if k in cron else MISSING,
                                      an(airflow[k]) if k in airflow else MISSING))
            else:
                out += _diff_value(where, sub, cron[k], airflow[k], cn, an, tolerated)
        return out
    if isinstance(cron, list) and isinstance(airflow, list):
        out = []
        for i in range(max(len(cron), len(airflow))):
            sub = f"{path}[{i}]"
            if i >= len(cron) or i >= len(airflow):
                out.append(Difference(where, sub, "(item)", cn(cron[i]) if i < len(cron) else MISSING,
                                      an(airflow[i]) if i < len(airflow) else MISSING))
            else:
                out += _diff_value(where, sub, cron[i], airflow[i], cn, an, tolerated)
        return out
    c, a = cn(cron), an(airflow)
    return [] if _equal(c, a) else [Difference(where, path, "(value)", c, a)]


def _load_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{file}: not a readable JSON document ({exc})") from None


def diff_json_files(where: str, cron: Mapping[str, Path], airflow: Mapping[str, Path], *,
                    cron_side: Side = Side(), airflow_side: Side = Side(),
                    tolerated: Mapping[str, str] = TOLERATED_FIELDS) -> list[Difference]:
    """Two sets of JSON files matched by name (the mapping's key): a file on one side only, or its differences."""
    out: list[Difference] = []
    for name in sorted(set(cron) | set(airflow)):
        if name not in cron or name not in airflow:
            out.append(Difference(f"{where}/{name}", "-", "(file)", "present" if name in cron else MISSING,
                                  "present" if name in airflow else MISSING))
            continue
        out += diff_json(f"{where}/{name}", _load_json(cron[name]), _load_json(airflow[name]),
                         cron_side=cron_side, airflow_side=airflow_side, tolerated=tolerated)
    return out


def automation_files(home: Path) -> dict[str, Path]:
    """``logs/automation/*.json`` of a pipeline home, by file name."""
    folder = home / "logs" / "automation"
    return {f.name: f for f in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def checkpoint_files(home: Path) -> dict[str, Path]:
    """``data/checkpoints/<pipeline_id>/<stage>.json`` of a pipeline home, by ``<ticker>/<stage>.json``.

    A pipeline id is ``<entrypoint or dag_id>__<run_id>__<ticker>``: only its last part names the same work on
    both sides.
    """
    folder = home / "data" / "checkpoints"
    if not folder.is_dir():
        return {}
    return {f"{f.parent.name.rsplit('__', 1)[-1]}/{f.name}": f for f in sorted(folder.glob("*/*.json"))}


# -- two homes ------------------------------------------------------------------------------------------------

DATABASE = Path("data") / "portfolio_maximizer.db"


def diff_homes(cron_home: Path, airflow_home: Path, *, cron_run_ids: Iterable[str] = (),
               airflow_run_ids: Iterable[str] = ()) -> list[Difference]:
    """The database, the automation reports and the checkpoints of two pipeline homes."""
    cron, airflow = Side(tuple(cron_run_ids), cron_home), Side(tuple(airflow_run_ids), airflow_home)
    return [*diff_databases(cron_home / DATABASE, airflow_home / DATABASE, cron=cron, airflow=airflow),
            *diff_json_files("logs/automation", automation_files(cron_home), automation_files(airflow_home),
                             cron_side=cron, airflow_side=airflow),
            *diff_json_files("data/checkpoints", checkpoint_files(cron_home), checkpoint_files(airflow_home),
                             cron_side=cron, airflow_side=airflow)]
