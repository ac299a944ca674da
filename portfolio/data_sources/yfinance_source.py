"""Yahoo Finance daily bars through the optional ``yfinance`` package (imported lazily)."""

from __future__ import annotations

import importlib.util
from datetime import date, timedelta
from typing import TYPE_CHECKING

from portfolio.data_sources.base import SourceError, bars_in_window
from portfolio.data_sources.http import mark_down, network_blocked

if TYPE_CHECKING:
    import pandas as pd

YAHOO_HOST = "https://query1.finance.yahoo.com"


class YFinanceSource:
    """Daily OHLCV from Yahoo Finance; unavailable when ``yfinance`` is not installed."""

    name = "yfinance"

    def __init__(self, *, timeout: float = 10.0, cooldown: float = 60.0) -> None:
        self.timeout, self.cooldown = timeout, cooldown

    def available(self) -> tuple[bool, str]:
        """Needs the ``yfinance`` package and a host that has not just failed."""
        if importlib.util.find_spec("yfinance") is None:
            return False, "package yfinance is not installed (pip install 'portfolio-maximizer[live]')"
        blocked = network_blocked(YAHOO_HOST, self.cooldown)
        return (False, blocked) if blocked else (True, "")

    def fetch(self, ticker: str, start: date, end: date) -> pd.DataFrame:
        """Daily bars of ``ticker`` between ``start`` and ``end``."""
        ok, reason = self.available()
        if not ok:
            raise SourceError(self.name, ticker, reason)
        import yfinance

        try:
            raw = yfinance.Ticker(ticker).history(
                start=start.isoformat(), end=(end + timedelta(days=1)).isoformat(), interval="1d",
                auto_adjust=False, actions=False, timeout=self.timeout, raise_errors=True)
        except Exception as exc:  # yfinance raises many types; all mean "this source failed"
            text = f"{type(exc).__name__}: {exc}"
            if any(word in text.lower() for word in ("connection", "timeout", "timed out", "resolve")):
                mark_down(YAHOO_HOST, type(exc).__name__)
            raise SourceError(self.name, ticker, text[:300]) from None
        if raw is None or raw.empty:
            raise SourceError(self.name, ticker, f"no bars between {start} and {end}")
        frame = raw.reset_index().rename(columns={"Date": "date", "Datetime": "date"})
        return bars_in_window(frame, self.name, ticker, start, end)
