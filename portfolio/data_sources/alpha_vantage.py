"""Alpha Vantage daily bars (``TIME_SERIES_DAILY``); unavailable without ``ALPHA_VANTAGE_API_KEY``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from portfolio.data_sources.base import SourceError, canonical_frame
from portfolio.data_sources.http import get_json, network_blocked
from portfolio.secret_loader import get_secret

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_URL = "https://www.alphavantage.co/query"
_FIELDS = {"1. open": "open", "2. high": "high", "3. low": "low", "4. close": "close", "5. volume": "volume"}
_MESSAGE_KEYS = ("Error Message", "Note", "Information")


class AlphaVantageSource:
    """Daily OHLCV from Alpha Vantage's REST API."""

    name = "alpha_vantage"

    def __init__(self, api_key: str | None = None, *, base_url: str = DEFAULT_URL, timeout: float = 10.0,
                 cooldown: float = 60.0) -> None:
        self.api_key = api_key if api_key is not None else get_secret("ALPHA_VANTAGE_API_KEY")
        self.base_url, self.timeout, self.cooldown = base_url, timeout, cooldown

    def available(self) -> tuple[bool, str]:
        """Needs an API key and a host that has not just failed."""
        if not self.api_key:
            return False, "ALPHA_VANTAGE_API_KEY is not set"
        blocked = network_blocked(self.base_url, self.cooldown)
        return (False, blocked) if blocked else (True, "")

    def fetch(self, ticker: str, start: date, end: date) -> pd.DataFrame:
        """Daily bars of ``ticker`` between ``start`` and ``end``."""
        import pandas as pd

        ok, reason = self.available()
        if not ok:
            raise SourceError(self.name, ticker, reason)
        compact = start >= date.today() - timedelta(days=130)  # compact = the latest 100 bars
        payload = get_json(self.name, ticker, self.base_url, timeout=self.timeout, params={
            "function": "TIME_SERIES_DAILY", "symbol": ticker, "apikey": self.api_key,
            "outputsize": "compact" if compact else "full", "datatype": "json"})
        series = _series(payload, ticker)
        rows = [{"date": day, **{name: bar.get(key) for key, name in _FIELDS.items()}}
                for day, bar in series.items()]
        raw = pd.DataFrame(rows, columns=["date", *_FIELDS.values()])
        frame = canonical_frame(raw, self.name, ticker, start, end)
        if frame.empty:
            raise SourceError(self.name, ticker, f"no bars between {start} and {end}")
        return frame


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
