"""Quant validation health: the metrics and the GREEN / YELLOW / RED classification at tier boundaries."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from portfolio.database_manager import DatabaseManager
from portfolio.quant_health import (
    GREEN,
    RED,
    YELLOW,
    check_health,
    classify,
    compute_metrics,
    equity_returns,
    json_safe,
    max_drawdown,
    sharpe,
    sortino,
    trade_stats,
)
from portfolio.settings import load_settings
from tests.trading_support import StatsdSink

# config/pipeline.yml: min_trades 5; green 1.0 / 1.2 / 0.15 / 0.50; yellow 0.3 / 0.4 / 0.25 / 0.40
GREEN_EDGE = {"sharpe": 1.0, "sortino": 1.2, "max_drawdown": 0.15, "win_rate": 0.5, "closed_trades": 5}
YELLOW_EDGE = {"sharpe": 0.3, "sortino": 0.4, "max_drawdown": 0.25, "win_rate": 0.4, "closed_trades": 5}


def metrics(base: dict[str, Any], **changes: float) -> dict[str, Any]:
    return {**base, **changes}


@pytest.mark.parametrize(("m", "colour", "reason"), [
    (metrics(GREEN_EDGE), GREEN, "every green threshold met"),
    (metrics(GREEN_EDGE, sharpe=0.999), YELLOW, "sharpe 0.999 < green min_sharpe 1.0"),
    (metrics(GREEN_EDGE, sortino=1.199), YELLOW, "sortino 1.199 < green min_sortino 1.2"),
    (metrics(GREEN_EDGE, max_drawdown=0.1501), YELLOW, "max_drawdown 0.150 > green max_drawdown 0.15"),
    (metrics(GREEN_EDGE, win_rate=0.499), YELLOW, "win_rate 0.499 < green min_win_rate 0.5"),
    (metrics(YELLOW_EDGE), YELLOW, "sharpe 0.300 < green min_sharpe 1.0"),
    (metrics(YELLOW_EDGE, sharpe=0.299), RED, "sharpe 0.299 < yellow min_sharpe 0.3"),
    (metrics(YELLOW_EDGE, sortino=0.399), RED, "sortino 0.399 < yellow min_sortino 0.4"),
    (metrics(YELLOW_EDGE, max_drawdown=0.2501), RED, "max_drawdown 0.250 > yellow max_drawdown 0.25"),
    (metrics(YELLOW_EDGE, win_rate=0.399), RED, "win_rate 0.399 < yellow min_win_rate 0.4"),
    (metrics(GREEN_EDGE, sortino=math.inf), GREEN, "every green threshold met"),
    (metrics(YELLOW_EDGE, sharpe=-3.0, max_drawdown=0.9, closed_trades=4), YELLOW,
     "only 4 closed trades (< quant_health.min_trades 5): insufficient evidence"),
], ids=["green-edge", "sharpe-below-green", "sortino-below-green", "drawdown-above-green", "win-below-green",
        "yellow-edge", "sharpe-below-yellow", "sortino-below-yellow", "drawdown-above-yellow",
        "win-below-yellow", "infinite-sortino", "too-few-trades"])
def test_classification_at_tier_boundaries(m: dict[str, Any], colour: str, reason: str) -> None:
    got, reasons = classify(m, load_settings().quant_health)
    assert got == colour
    assert reason in reasons


def test_max_drawdown_and_returns() -> None:
    assert max_drawdown([100, 120, 90, 130]) == pytest.approx(0.25)
    assert max_drawdown([1, 2, 3]) == 0.0
    assert equity_returns([100, 110, 99]) == pytest.approx([0.1, -0.1])


def test_sharpe_and_sortino() -> None:
    rets = [0.01, -0.005, 0.02, 0.0]
    mean = sum(rets) / 4
    sd = math.sqrt(sum((r - mean) ** 2 for r in rets) / 3)
    assert sharpe(rets, 252) == pytest.approx(mean / sd * math.sqrt(252))
    assert sortino(rets, 252) == pytest.approx(mean / math.sqrt(0.005**2 / 4) * math.sqrt(252))
    assert sharpe([0.01, 0.01], 252) == 0.0  # no variation: no ratio
    assert sortino([0.01, 0.02], 252) == math.inf and json_safe({"s": math.inf}) == {"s": None}


def test_trade_stats() -> None:
    assert trade_stats([10.0, -5.0, 5.0]) == {"closed_trades": 3, "win_rate": pytest.approx(2 / 3),
                                              "profit_factor": pytest.approx(3.0)}
    assert trade_stats([1.0])["profit_factor"] is None
    assert trade_stats([]) == {"closed_trades": 0, "win_rate": 0.0, "profit_factor": None}


def _seed_account(db: DatabaseManager, equity_by_bar: list[tuple[str, str, float]],
                  pnls: list[float]) -> None:
    with db.transaction() as conn:
        conn.executemany("INSERT INTO equity_snapshots (ts, run_id, cash, equity, pnl, bar) "
                         "VALUES (?, 'r', 0, ?, 0, ?)", [(ts, eq, bar) for ts, bar, eq in equity_by_bar])
        conn.executemany("INSERT INTO trades (run_id, ticker, bar, ts, side, quantity, price, cost, "
                         "realized_pnl) VALUES ('r', 'AAPL', 'b', 't', 'SELL', 1, 1, 0, ?)",
                         [(p,) for p in pnls])
        conn.execute("INSERT INTO trades (run_id, ticker, bar, ts, side, quantity, price, cost) "
                     "VALUES ('r', 'AAPL', 'b', 't', 'BUY', 1, 1, 0)")


@pytest.mark.usefixtures("db_backend")  # on SQLite and on PostgreSQL
def test_metrics_from_the_database_keep_the_last_snapshot_per_bar(pmx_home: Path) -> None:
    db = DatabaseManager()
    _seed_account(db, [("2024-01-02T15:00Z", "2024-01-02", 100.0), ("2024-01-03T15:00Z", "2024-01-03", 105.0),
                       ("2024-01-03T16:00Z", "2024-01-03", 110.0), ("2024-01-04T15:00Z", "2024-01-04", 99.0),
                       ("2024-01-05T15:00Z", "2024-01-05", 120.0)], [10.0, -5.0, 5.0])
    m = compute_metrics(db)
    assert m["bars"] == 4 and m["max_drawdown"] == pytest.approx(0.1)  # 110 -> 99, the 105 is superseded
    assert m["closed_trades"] == 3 and m["trade_count"] == 4 and m["win_rate"] == pytest.approx(2 / 3)
    assert m["sharpe"] == pytest.approx(sharpe(equity_returns([100.0, 110.0, 99.0, 120.0]), 252))


@pytest.mark.parametrize(("curve", "pnls", "colour", "level"), [
    ([100, 101, 102, 103, 104, 105], [1.0] * 5, GREEN, 0),
    ([100, 90, 80, 70, 60, 50], [-1.0] * 5, RED, 2),
    ([100, 101], [1.0], YELLOW, 1),
], ids=["steady-gains", "steady-losses", "too-few-trades"])
@pytest.mark.usefixtures("db_backend")  # on SQLite and on PostgreSQL
def test_check_health_emits_the_gauge(pmx_home: Path, monkeypatch: pytest.MonkeyPatch, curve: list[float],
                                      pnls: list[float], colour: str, level: int) -> None:
    db = DatabaseManager()
    days = [f"2024-01-{i + 2:02d}" for i in range(len(curve))]
    _seed_account(db, [(f"{d}T15:00Z", d, v) for d, v in zip(days, curve, strict=True)], pnls)
    sink = StatsdSink(monkeypatch)
    try:
        out = check_health(db)
        lines = sink.lines()
    finally:
        sink.close()
    assert (out["colour"], out["level"]) == (colour, level) and out["reasons"]
    assert f"pmx.quant.health:{level}|g" in lines
