"""Market-data sources (yfinance, Alpha Vantage, Finnhub, synthetic) behind one interface with failover."""

from __future__ import annotations

from portfolio.data_sources.base import OHLCV_COLUMNS, AllSourcesFailedError, DataSource, SourceError

__all__ = ["OHLCV_COLUMNS", "AllSourcesFailedError", "DataSource", "SourceError"]
