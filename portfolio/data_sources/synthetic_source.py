"""The synthetic data source: bars from a saved dataset (id or ``latest``) or generated on the fly.

Both paths give the same numbers for the same spec, because generation is deterministic per (seed, ticker,
date). A dataset that lacks the ticker or the window is extended by generating with the dataset's own spec.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from portfolio.data_sources.base import SourceError, canonical_frame
from portfolio.synthetic import (
    DatasetError,
    SyntheticSpec,
    generate_ticker,
    load_dataset_ticker,
    load_manifest,
    resolve_dataset_id,
    spec_from_settings,
)

if TYPE_CHECKING:
    import pandas as pd


class SyntheticSource:
    """Always-available source of reproducible synthetic OHLCV."""

    name = "synthetic"

    def __init__(self, dataset_id: str | None = None, *, spec: SyntheticSpec | None = None) -> None:
        self.dataset_id = dataset_id
        self.spec = spec

    def available(self) -> tuple[bool, str]:
        """Available unless a named dataset is configured and cannot be read."""
        try:
            dataset = resolve_dataset_id(self.dataset_id)
            if dataset is not None:
                load_manifest(dataset)
        except DatasetError as exc:
            return False, str(exc)
        return True, ""

    def fetch(self, ticker: str, start: date, end: date) -> pd.DataFrame:
        """Bars of ``ticker`` in [start, end]; ``frame.attrs['origin']`` says where they came from."""
        try:
            dataset = resolve_dataset_id(self.dataset_id)
            spec = self.spec
            raw = None
            if dataset is not None:
                manifest = load_manifest(dataset)
                spec = spec or SyntheticSpec.from_dict(manifest)
                covers = manifest["start"] <= start.isoformat() and end.isoformat() <= manifest["end"]
                if covers and ticker in manifest.get("files", {}):
                    raw = load_dataset_ticker(dataset, ticker)
                    origin = f"dataset {dataset}"
            if raw is None:
                spec = spec or spec_from_settings()
                raw = generate_ticker(ticker, start, end, spec)
                origin = f"generated (seed {spec.seed})" + (f", spec of dataset {dataset}" if dataset else "")
        except (DatasetError, ValueError) as exc:
            raise SourceError(self.name, ticker, str(exc)) from None
        frame = canonical_frame(raw, self.name, ticker, start, end)
        if frame.empty:
            raise SourceError(self.name, ticker, f"no sessions between {start} and {end}")
        frame.attrs["origin"] = origin
        return frame
