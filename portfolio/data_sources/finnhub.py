"""Finnhub daily candles (``/stock/candle``); unavailable without ``FINNHUB_API_KEY``.

The key travels in the ``X-Finnhub-Token`` header, never in the URL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from portfolio.data_sources.base import SourceError, bars_in_window
from portfolio.data_sources.http import KeyedHttpSource, get_json

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_URL = "https://finnhub.io/api/v1"
_FIELDS = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume"}


def _unix(day: date) -> int:
    return int(datetime.combine(day, time(), tzinfo=UTC).timestamp())


class FinnhubSource(KeyedHttpSource):
    """Daily OHLCV from Finnhub's REST API."""

    name = "finnhub"
    key_env = "FINNHUB_API_KEY"
    default_url = DEFAULT_URL

    def fetch(self, ticker: str, start: date, end: date) -> pd.DataFrame:
        """Daily bars of ``ticker`` between ``start`` and ``end``."""
        import pandas as pd

        self.require_available(ticker)
        payload = get_json(self.name, ticker, f"{self.base_url.rstrip('/')}/stock/candle", timeout=self.timeout,
                           headers={"X-Finnhub-Token": str(self.api_key)},
                           params={"symbol": ticker, "resolution": "D", "from": _unix(start),
                                   "to": _unix(end + timedelta(days=1)) - 1})
        columns = _columns(payload, ticker)
        # daily candles are stamped 00:00 UTC of the session date: keep the UTC date, not New York's
        dates = pd.to_datetime(pd.Series(columns["t"], dtype="int64"), unit="s")
        raw = pd.DataFrame({"date": dates, **{name: columns[key] for key, name in _FIELDS.items()}})
        return bars_in_window(raw, self.name, ticker, start, end)


def _columns(payload: Any, ticker: str) -> dict[str, list[Any]]:
    if not isinstance(payload, dict):
        raise SourceError(FinnhubSource.name, ticker, f"unexpected response type {type(payload).__name__}")
    if payload.get("error"):
        raise SourceError(FinnhubSource.name, ticker, f"error: {str(payload['error'])[:200]}")
    status = payload.get("s")
    if status == "no_data":
        raise SourceError(FinnhubSource.name, ticker, "no_data")
    if status != "ok":
        raise SourceError(FinnhubSource.name, ticker, f"unexpected status {status!r}")
    lengths = {key: len(payload.get(key) or []) for key in ("t", *_FIELDS)}
    if len(set(lengths.values())) != 1:
        raise SourceError(FinnhubSource.name, ticker, f"ragged candle arrays {lengths}")
    return {key: list(payload[key]) for key in ("t", *_FIELDS)}
