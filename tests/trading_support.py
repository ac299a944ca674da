"""Helpers for the forecasting and trading tests: deterministic bars, config overrides, a StatsD sink."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from foundation.paths import REPO_ROOT
from portfolio.database_manager import DatabaseManager

STAMP = "2024-01-01T00:00:00Z"


def random_walk(n: int, seed: int = 1, drift: float = 0.0003, vol: float = 0.012,
                start: float = 100.0) -> np.ndarray:
    """Deterministic geometric random walk of ``n`` closes."""
    rng = np.random.default_rng(seed)
    return np.asarray(start * np.exp(np.cumsum(rng.normal(drift, vol, n))))


def session_dates(n: int, first: str = "2023-01-02") -> list[str]:
    """``n`` consecutive weekdays from ``first`` as ISO strings."""
    days = np.busday_offset(np.datetime64(first), np.arange(n), roll="forward")
    return [str(d) for d in days]


def seed_ohlcv(db: DatabaseManager, ticker: str, closes: Sequence[float],
               first: str = "2023-01-02") -> list[str]:
    """Insert one bar per close (open = high = low = close) for ``ticker``; return the dates."""
    dates = session_dates(len(closes), first)
    rows = [(ticker, d, float(c), float(c), float(c), float(c), 1e6, "test", STAMP)
            for d, c in zip(dates, closes, strict=True)]
    with db.transaction() as conn:
        conn.executemany("INSERT INTO ohlcv (ticker, date, open, high, low, close, volume, source, ingested_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ticker, date) DO UPDATE SET "
                         "open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, "
                         "volume = excluded.volume, source = excluded.source, ingested_at = excluded.ingested_at",
                         rows)
    return dates


def seed_ensemble_forecast(db: DatabaseManager, ticker: str, as_of: str, run_id: str, expected_return: float,
                           confidence: float, horizon: int = 5, created_at: str = STAMP) -> None:
    """Store an ensemble forecast (expected return spread evenly over the steps) as the ETL would."""
    rows = [(run_id, ticker, created_at, as_of, k, as_of, expected_return / horizon, confidence)
            for k in range(1, horizon + 1)]
    with db.transaction() as conn:
        conn.executemany("INSERT INTO forecasts (run_id, ticker, model, created_at, as_of, step, target_date, "
                         "expected_return, volatility, confidence) VALUES (?, ?, 'ensemble', ?, ?, ?, ?, ?, 0.01, ?) "
                         "ON CONFLICT (run_id, ticker, model, step) DO UPDATE SET created_at = excluded.created_at, "
                         "as_of = excluded.as_of, target_date = excluded.target_date, "
                         "expected_return = excluded.expected_return, volatility = excluded.volatility, "
                         "confidence = excluded.confidence", rows)


def count_rows(db: DatabaseManager, *tables: str) -> dict[str, int]:
    """Row counts of ``tables``."""
    conn = db.connect()
    try:
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}
    finally:
        conn.close()


def override_config(home: Path, monkeypatch: Any, changes: dict[str, Any]) -> Path:
    """Copy ``config/`` under ``home``, merge ``changes`` into pipeline.yml, set PMX_CONFIG_DIR to it."""
    from foundation.config_loader import deep_merge
    from tests.support import reset_caches

    target = home / "config"
    for src in (REPO_ROOT / "config").rglob("*.yml"):
        dst = target / src.relative_to(REPO_ROOT / "config")
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    pipeline = target / "pipeline.yml"
    data = yaml.safe_load(pipeline.read_text(encoding="utf-8"))
    pipeline.write_text(yaml.safe_dump(deep_merge(data, changes), sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("PMX_CONFIG_DIR", str(target))
    reset_caches()
    return target


class StatsdSink:
    """A real UDP socket on 127.0.0.1 that the project's StatsD client is pointed at."""

    def __init__(self, monkeypatch: Any) -> None:
        from foundation import metrics

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.received: list[str] = []
        monkeypatch.setenv("PMX_STATSD_ENABLED", "true")
        monkeypatch.setenv("PMX_STATSD_HOST", "127.0.0.1")
        monkeypatch.setenv("PMX_STATSD_PORT", str(self.sock.getsockname()[1]))
        metrics._client = None
        metrics._client_key = None

    def lines(self) -> list[str]:
        """Every line received so far."""
        while True:
            try:
                self.received.append(self.sock.recv(65535).decode("utf-8"))
            except BlockingIOError:
                return list(self.received)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


# -- entrypoint helpers ----------------------------------------------------------------------------------
def assert_help(main: Any, capsys: Any, name: str, *options: str) -> str:
    """``--help`` exits 0 and prints the usage (with ``options``); return the text."""
    import pytest

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = str(capsys.readouterr().out)
    assert out.startswith(f"usage: {name}")
    for option in options:
        assert option in out
    return out


def assert_one_line_error(main: Any, argv: list[str], capsys: Any, name: str, code: int = 2) -> str:
    """``main(argv)`` exits ``code`` (returned or ``SystemExit``) with one stderr line naming ``name``."""
    try:
        got = main(argv)
    except SystemExit as exc:
        got = exc.code
    assert got == code
    lines = str(capsys.readouterr().err).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{name}: "), lines
    return lines[0]


def last_json(capsys: Any) -> dict[str, Any]:
    """The JSON summary an entrypoint printed on stdout."""
    import json

    return dict(json.loads(capsys.readouterr().out))


def entrypoint_events(name: str) -> list[str]:
    """Names of the pipeline and error events written for entrypoint ``name``."""
    from foundation.pipeline_logger import read_events

    events = [*read_events(stream="pipeline"), *read_events(stream="errors")]
    return [e["event"] for e in events if e.get("entrypoint") == name]
