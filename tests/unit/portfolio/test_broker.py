"""Paper broker: cash, positions, costs and realised PnL arithmetic; no shorting; never negative cash."""

from __future__ import annotations

from pathlib import Path

import pytest

from portfolio.broker import BrokerError, PaperBroker
from portfolio.costs import CostModel
from portfolio.database_manager import DatabaseManager
from portfolio.settings import PipelineSettings, load_settings
from tests.trading_support import StatsdSink, count_rows, seed_ohlcv

pytestmark = pytest.mark.usefixtures("db_backend")  # each test on SQLite and on PostgreSQL

# commission 0.005/share (min 1.0); half of a 2 bps spread + 1 bps slippage = 2 bps of notional per fill
COSTS = CostModel(commission_per_share=0.005, min_commission=1.0, spread_bps=2.0, slippage_bps=1.0)


def make_broker(initial_cash: float = 100_000, fraction: float = 0.1) -> PaperBroker:
    base = load_settings()
    settings: PipelineSettings = base.model_copy(update={"broker": base.broker.model_copy(
        update={"initial_cash": initial_cash, "max_position_fraction": fraction})})
    return PaperBroker(DatabaseManager(), settings, COSTS)


def test_buy_then_sell_arithmetic(pmx_home: Path) -> None:
    broker = make_broker()
    buy = broker.buy("AAPL", 100.0, bar="2024-01-02", run_id="r1")
    # target 10% of 100k = 10k -> 100 shares; cost = max(1, 0.5) + 10_000 * 2e-4 = 3.0
    assert (buy["status"], buy["quantity"], buy["cost"]) == ("filled", 100, pytest.approx(3.0))
    assert broker.positions() == {"AAPL": {"quantity": 100, "avg_price": pytest.approx(100.03)}}
    assert broker.account()["cash"] == pytest.approx(100_000 - 10_000 - 3.0)
    sell = broker.sell("AAPL", 110.0, bar="2024-01-03", run_id="r1")
    # cost = max(1, 0.5) + 11_000 * 2e-4 = 3.2; pnl = 100 x (110 - 100.03) - 3.2 = 993.8 (net of both legs)
    assert (sell["quantity"], sell["cost"]) == (100, pytest.approx(3.2))
    assert sell["realized_pnl"] == pytest.approx(993.8)
    acct = broker.account()
    assert acct["cash"] == pytest.approx(100_993.8) and acct["equity"] == pytest.approx(100_993.8)
    assert acct["pnl"] == pytest.approx(993.8) and broker.positions() == {}
    assert broker.win_rate() == 1.0


def test_partial_sell_keeps_average_price(pmx_home: Path) -> None:
    broker = make_broker()
    broker.buy("AAPL", 50.0, bar="b1", run_id="r", quantity=200)  # cost 1.0 + 10_000 * 2e-4 = 3.0
    out = broker.sell("AAPL", 40.0, bar="b2", run_id="r", quantity=50)  # cost 1.0 + 2_000 * 2e-4 = 1.4
    avg = (10_000 + 3.0) / 200
    assert out["realized_pnl"] == pytest.approx(50 * (40.0 - avg) - 1.4)
    assert broker.positions()["AAPL"] == {"quantity": 150, "avg_price": pytest.approx(avg)}
    assert broker.win_rate() == 0.0


def test_buy_tops_up_to_the_target_weight_only(pmx_home: Path) -> None:
    broker = make_broker()
    seed_ohlcv(DatabaseManager(), "AAPL", [100.0, 100.0], first="2024-01-02")
    broker.buy("AAPL", 100.0, bar="2024-01-02", run_id="r", quantity=40)
    top_up = broker.buy("AAPL", 100.0, bar="2024-01-03", run_id="r")
    # equity ~ 100k - costs; target ~ 9_999.x -> room for 59 more shares (not 60: costs lowered equity)
    assert top_up["quantity"] == 59
    again = broker.buy("AAPL", 100.0, bar="2024-01-03", run_id="r")
    assert (again["status"], again["reason"]) == ("rejected", "position at target size")


@pytest.mark.parametrize(("held", "quantity", "reason"), [
    (0, None, "no position to sell (no shorting)"),
    (10, 11, "holds 10, cannot sell 11 (no shorting)"),
], ids=["nothing-held", "more-than-held"])
def test_no_shorting(pmx_home: Path, held: int, quantity: int | None, reason: str) -> None:
    broker = make_broker()
    if held:
        broker.buy("AAPL", 100.0, bar="b1", run_id="r", quantity=held)
    before = count_rows(broker.db, "trades", "positions")
    out = broker.sell("AAPL", 100.0, bar="b2", run_id="r", quantity=quantity)
    assert out["status"] == "rejected" and out["reason"] == reason
    assert count_rows(broker.db, "trades", "positions") == before


def test_never_negative_cash(pmx_home: Path) -> None:
    broker = make_broker(initial_cash=1_000, fraction=1.0)
    out = broker.buy("AAPL", 100.0, bar="b1", run_id="r", quantity=10)  # 1_000 + cost > 1_000
    assert out["status"] == "rejected" and "insufficient cash" in out["reason"]
    sized = broker.buy("AAPL", 100.0, bar="b1", run_id="r")  # sizing stays within cash, costs included
    assert sized["quantity"] == 9
    assert broker.account()["cash"] == pytest.approx(1_000 - 900 - COSTS.fill_cost(9, 100.0))
    assert broker.account()["cash"] >= 0
    broke = broker.buy("AAPL", 100.0, bar="b2", run_id="r")
    assert broke["status"] == "rejected"


def test_order_writes_are_one_transaction(pmx_home: Path) -> None:
    broker = make_broker()
    with pytest.raises(RuntimeError, match="boom"), broker.db.transaction() as conn:
        broker.buy_in(conn, "AAPL", 100.0, bar="b1", run_id="r")
        raise RuntimeError("boom")
    counts = count_rows(broker.db, "trades", "positions", "account")
    assert counts == {"trades": 0, "positions": 0, "account": 0}


@pytest.mark.parametrize(("price", "quantity", "match"), [
    (0.0, None, "price 0.0 must be a positive number"),
    (float("nan"), None, "price nan"),
    (10.0, 1.5, "quantity 1.5 must be a positive whole number"),
    (10.0, -3, "quantity -3"),
], ids=["zero-price", "nan-price", "fractional", "negative"])
def test_invalid_orders_raise_naming_the_value(pmx_home: Path, price: float, quantity: float | None,
                                               match: str) -> None:
    with pytest.raises(BrokerError, match=match):
        make_broker().buy("AAPL", price, bar="b", run_id="r", quantity=quantity)


def test_unknown_action_is_an_error(pmx_home: Path) -> None:
    broker = make_broker()
    with pytest.raises(BrokerError, match="unknown action 'SHORT'"), broker.db.transaction() as conn:
        broker.execute_in(conn, "SHORT", "AAPL", 10.0, bar="b", run_id="r")


def test_snapshot_marks_positions_at_the_bar_close(pmx_home: Path) -> None:
    broker = make_broker()
    seed_ohlcv(broker.db, "AAPL", [100.0, 120.0, 500.0], first="2024-01-02")
    broker.buy("AAPL", 100.0, bar="2024-01-02", run_id="r", quantity=10)
    snap = broker.snapshot("r", bar="2024-01-03")  # marked at 120, not at the later 500
    cash = 100_000 - 1_000 - COSTS.fill_cost(10, 100.0)
    assert snap["equity"] == pytest.approx(cash + 1_200)
    assert snap["pnl"] == pytest.approx(cash + 1_200 - 100_000)
    conn = broker.db.connect()
    try:
        row = conn.execute("SELECT bar, equity, cash FROM equity_snapshots").fetchone()
    finally:
        conn.close()
    assert tuple(row) == ("2024-01-03", pytest.approx(cash + 1_200), pytest.approx(cash))


def test_trading_metrics_are_emitted(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = StatsdSink(monkeypatch)
    try:
        broker = make_broker()
        broker.buy("AAPL", 100.0, bar="b1", run_id="r", quantity=10)
        broker.sell("AAPL", 101.0, bar="b2", run_id="r")
        lines = sink.lines()
    finally:
        sink.close()
    assert "pmx.trading.trades,ticker=AAPL,side=buy:1|c" in lines
    assert "pmx.trading.trades,ticker=AAPL,side=sell:1|c" in lines
    names = {line.split(":")[0] for line in lines}
    assert names >= {"pmx.trading.equity", "pmx.trading.cash", "pmx.trading.pnl", "pmx.trading.win_rate"}
