"""Alpha Vantage daily bars (``TIME_SERIES_DAILY``); unavailable without ``ALPHA_VANTAGE_API_KEY``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from portfolio.calendar import trading_day
from portfolio.data_sources.base import SourceError, bars_in_window
from portfolio.data_sources.http import KeyedHttpSource, get_json

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_URL = "https://www.alphavantage.co/query"
_FIELDS = {"1. open": "open", "2. high": "high", "3. low": "low", "4. close": "close", "5. volume": "volume"}
_MESSAGE_KEYS = ("Error Message", "Note", "Information")


class AlphaVantageSource(KeyedHttpSource):
    """Daily OHLCV from Alpha Vantage's REST API."""

    name = "alpha_vantage"
    key_env = "ALPHA_VANTAGE_API_KEY"
    default_url = DEFAULT_URL

    def fetch(self, ticker: str, start: date, end: date) -> pd.DataFrame:
        """Daily bars of ``ticker`` between ``start`` and ``end``."""
        import pandas as pd

        self.require_available(ticker)
        compact = start >= trading_day() - timedelta(days=130)  # compact = the latest 100 bars
        payload = get_json(self.name, ticker, self.base_url, timeout=self.timeout, params={
            "function": "TIME_SERIES_DAILY", "symbol": ticker, "apikey": self.api_key,
            "outputsize": "compact" if compact else "full", "datatype": "json"})
        series = _series(payload, ticker)
        rows = [{"date": day, **{name: bar.get(key) for key, name in _FIELDS.items()}}
                for day, bar in series.items()]
        raw = pd.DataFrame(rows, columns=["date", *_FIELDS.values()])
        return bars_in_window(raw, self.name, ticker, start, end)


def _series(payload: Any, ticker: str) -> dict[str, dict[str, Any]]:
    if not isinstance(payload, dict):
        raise SourceError(AlphaVantageSource.name, ticker,
                          f"unexpected response type {type(payload).__name__}")
    for key in _MESSAGE_KEYS:
        if key in payload:
            raise SourceError(AlphaVantageSource.name, ticker, f"{key}: {str(payload[key])[:200]}")
    series = payload.get("Time Series (Daily)")
    if not isinstance(series, dict):
        raise SourceError(AlphaVantageSource.name, ticker, "response has no 'Time Series (Daily)'")
    return series
