"""Trading: equity, cash, PnL, trades, win rate, forecast error, quant health, auto-trader freshness."""

from __future__ import annotations

from dashboards.panels import DashboardBuilder, Query, thresholds

RATE = "$__rate_interval"
TICKER = 'ticker=~"$ticker"'


def build() -> object:
    """The *Trading* dashboard."""
    board = DashboardBuilder(
        "pmx-trading", "Trading", "Paper-trading account, trades and forecast quality.", ["trading"]
    )
    board.variable("ticker", "Ticker", "label_values(pmx_forecast_error_ratio, ticker)")

    board.row("Account")
    board.stat("Equity", Query("max(pmx_trading_equity_usd)", instant=True), unit="currencyUSD")
    board.stat(
        "PnL",
        Query("max(pmx_trading_pnl_usd)", instant=True),
        unit="currencyUSD",
        steps=thresholds((None, "red"), (0, "green")),
    )
    board.stat(
        "Win rate",
        Query("max(pmx_trading_win_rate_ratio) or on() vector(0)", instant=True),
        unit="percentunit",
        description="Share of closed positions that made money; 0 until the first position is closed.",
        steps=thresholds((None, "red"), (0.4, "orange"), (0.5, "green")),
    )
    board.stat(
        "Quant health",
        Query("max(pmx_quant_health_status)", instant=True),
        mapping={"0": ("green", "green"), "1": ("yellow", "yellow"), "2": ("red", "red")},
    )
    board.timeseries(
        "Equity and cash",
        [
            Query("max(pmx_trading_equity_usd)", "equity"),
            Query("max(pmx_trading_cash_usd)", "cash"),
        ],
        unit="currencyUSD",
    )
    board.timeseries("Profit and loss", [Query("max(pmx_trading_pnl_usd)", "PnL")], unit="currencyUSD")

    board.row("Trades")
    board.timeseries(
        "Trades by side",
        [
            Query(f"sum by (side) (increase(pmx_trading_trades_total{{{TICKER}}}[{RATE}]))", "{{side}}"),
        ],
        stacked=True,
    )
    board.bars(
        "Trades per ticker, last 24 h",
        Query(
            f"sum by (ticker) (increase(pmx_trading_trades_total{{{TICKER}}}[24h]))",
            "{{ticker}}",
            instant=True,
        ),
    )
    board.timeseries("Win rate", [Query("max(pmx_trading_win_rate_ratio) or on() vector(0)", "win rate")],
                     unit="percentunit")
    board.stat(
        "Last auto-trader cycle",
        Query("pmx:trading_data_age_seconds", instant=True),
        unit="s",
        description="Time since the last completed cycle (every 30 minutes in market hours).",
        steps=thresholds((None, "green"), (2400, "orange"), (3600, "red")),
    )

    board.row("Forecasts")
    board.timeseries(
        "Forecast error (MAPE)",
        [
            Query(f"pmx_forecast_error_ratio{{{TICKER}}}", "{{ticker}} {{model}}"),
        ],
        unit="percentunit",
    )
    board.bars(
        "Latest forecast error by model",
        Query(f"avg by (model) (pmx_forecast_error_ratio{{{TICKER}}})", "{{model}}", instant=True),
        unit="percentunit",
        steps=thresholds((None, "green"), (0.05, "orange"), (0.1, "red")),
    )
    return board.build()
