"""One interface over every market-data source: cache first, then the sources in order, with logged failover.

Modes: ``synthetic`` uses only the synthetic source; ``live`` only the live sources (an error naming every
source's failure when all fail); ``auto`` the live sources in order, then synthetic data, saying so with a
``data_source_fallback`` event. Every move from one source to the next is a ``data_source_failover`` event and
an ``etl.source_failover`` metric.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from foundation.metrics import get_client
from foundation.pipeline_logger import PipelineLogger, get_logger
from foundation.redaction import bounded
from portfolio.data_sources.base import AllSourcesFailedError, DataSource, SourceError, canonical_frame
from portfolio.data_sources.cache import DiskCache

if TYPE_CHECKING:
    import pandas as pd

    from portfolio.settings import PipelineSettings

MODES = ("live", "synthetic", "auto")
SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class Attempt:
    """One try of one source for one ticker."""

    source: str
    ok: bool
    reason: str = ""
    seconds: float = 0.0
    from_cache: bool = False


@dataclass
class FetchResult:
    """The frame delivered for a ticker and how it was obtained."""

    ticker: str
    frame: pd.DataFrame
    source: str
    from_cache: bool
    fallback: bool
    origin: str
    attempts: list[Attempt] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A small JSON-friendly description (no data)."""
        return {"ticker": self.ticker, "source": self.source, "rows": len(self.frame),
                "from_cache": self.from_cache, "fallback": self.fallback, "origin": self.origin,
                "failovers": [{"source": a.source, "reason": a.reason} for a in self.attempts if not a.ok]}


def build_source(name: str, settings: PipelineSettings) -> DataSource:
    """Instantiate the source called ``name`` with its configured URL, timeout and cool-down."""
    cfg = settings.data_sources
    if name == "yfinance":
        from portfolio.data_sources.yfinance_source import YFinanceSource

        return YFinanceSource(timeout=cfg.timeout_seconds, cooldown=cfg.network_cooldown_seconds)
    if name == "alpha_vantage":
        from portfolio.data_sources.alpha_vantage import AlphaVantageSource

        return AlphaVantageSource(base_url=cfg.alpha_vantage_url, timeout=cfg.timeout_seconds,
                                  cooldown=cfg.network_cooldown_seconds)
    if name == "finnhub":
        from portfolio.data_sources.finnhub import FinnhubSource

        return FinnhubSource(base_url=cfg.finnhub_url, timeout=cfg.timeout_seconds,
                             cooldown=cfg.network_cooldown_seconds)
    if name == SYNTHETIC:
        from portfolio.data_sources.synthetic_source import SyntheticSource

        return SyntheticSource()
    raise ValueError(f"unknown data source {name!r}")


class DataSourceManager:
    """Fetches daily OHLCV for a ticker from the first source that delivers."""

    def __init__(self, mode: str | None = None, *, sources: list[DataSource] | None = None,
                 order: list[str] | None = None, settings: PipelineSettings | None = None,
                 cache: DiskCache | None = None, use_cache: bool = True,
                 logger: PipelineLogger | None = None) -> None:
        if settings is None:
            from portfolio.settings import load_settings

            settings = load_settings()
        self.mode = (mode or settings.execution_mode).strip().lower()
        if self.mode not in MODES:
            raise ValueError(f"execution mode {self.mode!r}: expected one of {', '.join(MODES)}")
        if sources is None:
            names = list(order or settings.data_sources.order)
            if self.mode != "live" and SYNTHETIC not in names:
                names.append(SYNTHETIC)
            sources = [build_source(name, settings) for name in names]
        live = [s for s in sources if s.name != SYNTHETIC]
        synthetic = [s for s in sources if s.name == SYNTHETIC]
        if self.mode == "synthetic" and not synthetic:
            synthetic = [build_source(SYNTHETIC, settings)]
        by_mode = {"live": live, "synthetic": synthetic, "auto": live + synthetic}
        self.sources: list[DataSource] = by_mode[self.mode]
        self.cache = (cache or DiskCache(settings=settings)) if use_cache else None
        self.log = logger or get_logger("data_sources")

    def _failover(self, ticker: str, failed: str, reason: str, nxt: str) -> None:
        self.log.log_event("data_source_failover", level="warning", ticker=ticker, from_source=failed,
                           to_source=nxt, reason=reason, mode=self.mode)
        get_client().incr("etl.source_failover", tags={"from_source": failed, "to_source": nxt})

    def _from_cache(self, ticker: str, start: date, end: date) -> FetchResult | None:
        if self.cache is None:
            return None
        for source in self.sources:
            if source.name == SYNTHETIC:
                continue  # generated data is cheaper to regenerate than to cache
            frame = self.cache.get(source.name, ticker, start, end)
            if frame is not None:
                return FetchResult(ticker, frame, source.name, True, False, f"cache of {source.name}",
                                   [Attempt(source.name, True, from_cache=True)])
        return None

    def fetch(self, ticker: str, start: date, end: date) -> FetchResult:
        """Bars of ``ticker`` in [start, end] from the cache or the first working source."""
        cached = self._from_cache(ticker, start, end)
        if cached is not None:
            self.log.log_event("data_source_fetch", ticker=ticker, source=cached.source,
                               rows=len(cached.frame), from_cache=True, mode=self.mode)
            return cached
        attempts: list[Attempt] = []
        for index, source in enumerate(self.sources):
            began = time.monotonic()
            try:
                ok, reason = source.available()
                if not ok:
                    raise SourceError(source.name, ticker, reason)
                raw = source.fetch(ticker, start, end)
                origin = str(raw.attrs.get("origin", source.name))
                frame = canonical_frame(raw, source.name, ticker, start, end)  # whatever the source returned
                frame.attrs["origin"] = origin
                if frame.empty:
                    raise SourceError(source.name, ticker, f"no rows between {start} and {end}")
            except Exception as exc:  # every failure of a source means: try the next one
                why = exc.reason if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
                why = bounded(why, 300)
                attempts.append(Attempt(source.name, False, why, round(time.monotonic() - began, 3)))
                if index + 1 < len(self.sources):
                    self._failover(ticker, source.name, why, self.sources[index + 1].name)
                continue
            attempts.append(Attempt(source.name, True, "", round(time.monotonic() - began, 3)))
            return self._deliver(ticker, start, end, source, frame, attempts)
        reasons = {a.source: a.reason for a in attempts}
        self.log.error("data_sources_exhausted", ticker=ticker, mode=self.mode, reasons=reasons)
        raise AllSourcesFailedError(ticker, self.mode, reasons)

    def _deliver(self, ticker: str, start: date, end: date, source: DataSource, frame: pd.DataFrame,
                 attempts: list[Attempt]) -> FetchResult:
        fallback = self.mode == "auto" and source.name == SYNTHETIC
        origin = str(frame.attrs.get("origin", source.name))
        if fallback:
            failed = {a.source: a.reason for a in attempts if not a.ok}
            self.log.log_event("data_source_fallback", level="warning", ticker=ticker, source=SYNTHETIC,
                               origin=origin, reasons=failed,
                               message=f"no live source delivered {ticker}; using SYNTHETIC data ({origin})")
        if self.cache is not None and source.name != SYNTHETIC:
            try:
                self.cache.put(source.name, ticker, start, end, frame)
            except OSError as exc:  # a full disk must not lose data already fetched
                self.log.log_event("data_cache_write_failed", level="warning", ticker=ticker,
                                   source=source.name, reason=bounded(str(exc), 300))
        self.log.log_event("data_source_fetch", ticker=ticker, source=source.name, rows=len(frame),
                           from_cache=False, fallback=fallback, origin=origin, mode=self.mode)
        return FetchResult(ticker, frame, source.name, False, fallback, origin, attempts)
