"""The data-source interface, the canonical OHLCV frame and the errors every source raises."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

OHLCV_COLUMNS: tuple[str, ...] = ("date", "open", "high", "low", "close", "volume")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")


class SourceError(RuntimeError):
    """A source could not deliver data; names the source and the ticker."""

    def __init__(self, source: str, ticker: str, reason: str) -> None:
        self.source, self.ticker, self.reason = source, ticker, reason
        super().__init__(f"{source}: {ticker}: {reason}")


class AllSourcesFailedError(SourceError):
    """Every source tried for a ticker failed; ``reasons`` maps each source to its failure."""

    def __init__(self, ticker: str, mode: str, reasons: dict[str, str]) -> None:
        self.reasons = dict(reasons)
        listed = "; ".join(f"{name}: {why}" for name, why in reasons.items()) or "no source configured"
        super().__init__("data_sources", ticker, f"every source failed in {mode} mode ({listed})")


@runtime_checkable
class DataSource(Protocol):
    """A market-data source of daily OHLCV bars."""

    name: str

    def available(self) -> tuple[bool, str]:
        """``(True, "")`` when usable now, else ``(False, reason)`` (missing key, package, network)."""
        ...

    def fetch(self, ticker: str, start: date, end: date) -> pd.DataFrame:
        """Daily bars of ``ticker`` from ``start`` to ``end`` inclusive, columns :data:`OHLCV_COLUMNS`."""
        ...


def canonical_frame(df: pd.DataFrame, source: str, ticker: str, start: date | None = None,
                    end: date | None = None) -> pd.DataFrame:
    """Lower-case columns, keep :data:`OHLCV_COLUMNS`, tz-naive session dates, optional date window.

    Rows are sorted by date (providers return either order) but never de-duplicated or repaired:
    the quality stage judges the data as delivered.
    """
    import pandas as pd

    frame = df.rename(columns={c: str(c).strip().lower() for c in df.columns})
    missing = [c for c in OHLCV_COLUMNS if c not in frame.columns]
    if missing:
        raise SourceError(source, ticker, f"response lacks column(s) {', '.join(missing)}")
    frame = frame.loc[:, list(OHLCV_COLUMNS)].copy()
    dates = pd.to_datetime(frame["date"], errors="coerce")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("America/New_York").dt.tz_localize(None)
    frame["date"] = dates.dt.normalize().astype("datetime64[ns]")
    for column in (*PRICE_COLUMNS, "volume"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    if start is not None:
        frame = frame[frame["date"].isna() | (frame["date"] >= pd.Timestamp(start))]
    if end is not None:
        frame = frame[frame["date"].isna() | (frame["date"] <= pd.Timestamp(end))]
    return frame.sort_values("date", kind="stable", na_position="last").reset_index(drop=True)


def bars_in_window(raw: pd.DataFrame, source: str, ticker: str, start: date, end: date) -> pd.DataFrame:
    """:func:`canonical_frame` of ``raw`` in [start, end]; a :class:`SourceError` when no bar is left."""
    frame = canonical_frame(raw, source, ticker, start, end)
    if frame.empty:
        raise SourceError(source, ticker, f"no bars between {start} and {end}")
    return frame
