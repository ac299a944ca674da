"""Seeded synthetic OHLCV: Markov regime switching, Student-t shocks, XNYS sessions.

Every ticker's path starts at :data:`EPOCH` and is drawn from its own random streams (seed + ticker), one
stream per component, so a bar depends only on (seed, ticker, regimes, shock_dof, date): not on the requested
window and not on the other tickers.

Datasets are saved as ``<datasets_dir>/<dataset_id>/`` (one CSV per ticker plus ``manifest.json`` with the
seed, tickers, dates, created_at and sha256 of the data) and ``<datasets_dir>/latest`` names the newest one.
Loading takes an id or ``latest`` (``SYNTHETIC_DATASET_ID``, then ``synthetic.dataset_id`` of the config).
CSV is the format: pyarrow is not installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation import paths
from foundation.atomic_io import write_atomic
from portfolio.calendar import DEFAULT_CALENDAR, session_index

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from portfolio.settings import PipelineSettings

EPOCH = date(2000, 1, 3)
GENERATOR_VERSION = 1
TRADING_DAYS = 252
PRICE_DECIMALS = 4
LATEST = "latest"
MANIFEST = "manifest.json"
_DATASET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class DatasetError(ValueError):
    """A synthetic dataset is missing, malformed or fails its checksum; names the dataset and file."""


@dataclass(frozen=True)
class RegimeSpec:
    """One market regime: annual drift and volatility, mean duration in sessions."""

    name: str
    drift_annual: float
    vol_annual: float
    mean_duration_days: float


@dataclass(frozen=True)
class SyntheticSpec:
    """Everything that determines a synthetic series besides the ticker and the dates."""

    seed: int
    regimes: tuple[RegimeSpec, ...]
    shock_dof: float
    calendar: str = DEFAULT_CALENDAR

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (stored in dataset manifests)."""
        return {"seed": self.seed, "shock_dof": self.shock_dof, "calendar": self.calendar,
                "generator_version": GENERATOR_VERSION,
                "regimes": [r.__dict__.copy() for r in self.regimes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyntheticSpec:
        """Inverse of :meth:`as_dict`."""
        return cls(seed=int(data["seed"]), shock_dof=float(data["shock_dof"]),
                   calendar=str(data.get("calendar", DEFAULT_CALENDAR)),
                   regimes=tuple(RegimeSpec(**r) for r in data["regimes"]))


def spec_from_settings(settings: PipelineSettings | None = None, *, seed: int | None = None) -> SyntheticSpec:
    """The spec configured in ``synthetic:`` of ``config/pipeline.yml`` (``seed`` overrides)."""
    if settings is None:
        from portfolio.settings import load_settings

        settings = load_settings()
    cfg = settings.synthetic
    regimes = tuple(RegimeSpec(r.name, r.drift_annual, r.vol_annual, r.mean_duration_days)
                    for r in cfg.regimes)
    return SyntheticSpec(seed=cfg.seed if seed is None else seed, regimes=regimes, shock_dof=cfg.shock_dof,
                         calendar=settings.quality.calendar)


def _streams(seed: int, ticker: str) -> list[np.random.Generator]:
    import numpy as np

    digest = int.from_bytes(hashlib.sha256(ticker.encode("utf-8")).digest()[:8], "little")
    children = np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, digest]).spawn(6)
    return [np.random.default_rng(child) for child in children]


def _regime_path(rng: np.random.Generator, n: int, regimes: tuple[RegimeSpec, ...]) -> np.ndarray:
    import numpy as np

    k = len(regimes)
    draws = rng.random((n, 2))
    states = np.zeros(n, dtype=np.int64)
    if k == 1 or n == 0:
        return states
    switch = [1.0 / r.mean_duration_days for r in regimes]
    state = int(draws[0, 1] * k)
    for i in range(n):
        if i and draws[i, 0] < switch[state]:
            other = int(draws[i, 1] * (k - 1))
            state = other if other < state else other + 1
        states[i] = state
    return states


def generate_ticker(ticker: str, start: date, end: date, spec: SyntheticSpec | None = None) -> pd.DataFrame:
    """Bars of ``ticker`` for the sessions in [start, end]: date, open, high, low, close, volume, regime."""
    import numpy as np
    import pandas as pd

    spec = spec or spec_from_settings()
    if start < EPOCH:
        raise ValueError(f"{ticker}: synthetic data starts at {EPOCH.isoformat()}, "
                         f"asked for {start.isoformat()}")
    if start > end:
        raise ValueError(f"{ticker}: start {start.isoformat()} is after end {end.isoformat()}")
    sessions = session_index(EPOCH, end, spec.calendar)
    n = len(sessions)
    r_regime, r_shock, r_gap, r_range, r_volume, r_params = _streams(spec.seed, ticker)
    states = _regime_path(r_regime, n, spec.regimes)
    drift = np.array([r.drift_annual for r in spec.regimes]) / TRADING_DAYS
    vol = np.array([r.vol_annual for r in spec.regimes]) / np.sqrt(TRADING_DAYS)
    sigma = vol[states]
    dof = spec.shock_dof
    shocks = r_shock.standard_t(dof, n) * np.sqrt((dof - 2) / dof)  # unit variance, fat tails
    returns = np.clip(drift[states] - 0.5 * sigma**2 + sigma * shocks, -0.5, 0.5)
    start_price, base_volume = r_params.uniform(20, 400), r_params.uniform(2e5, 5e6)
    close = start_price * np.exp(np.cumsum(returns))
    previous = np.concatenate(([start_price], close[:-1]))
    opened = previous * np.exp(r_gap.normal(0.0, 0.25, n) * sigma)
    ranges = np.abs(r_range.normal(0.0, 0.5, (n, 2))) * sigma[:, None]
    high = np.maximum(opened, close) * np.exp(ranges[:, 0])
    low = np.minimum(opened, close) * np.exp(-ranges[:, 1])
    volume = np.round(base_volume * np.exp(r_volume.normal(0.0, 0.25, n)) * (1 + 2 * np.abs(shocks) / 3))
    names = np.array([r.name for r in spec.regimes], dtype=object)
    frame = pd.DataFrame({
        "date": sessions.astype("datetime64[ns]"),
        "open": opened.round(PRICE_DECIMALS), "high": high.round(PRICE_DECIMALS),
        "low": low.round(PRICE_DECIMALS), "close": close.round(PRICE_DECIMALS),
        "volume": volume.astype("float64"), "regime": names[states],
    })
    window = (frame["date"] >= pd.Timestamp(start)) & (frame["date"] <= pd.Timestamp(end))
    return frame.loc[window].reset_index(drop=True)


def generate(tickers: list[str], start: date, end: date,
             spec: SyntheticSpec | None = None) -> dict[str, pd.DataFrame]:
    """:func:`generate_ticker` for each ticker (each independent of the others)."""
    spec = spec or spec_from_settings()
    return {ticker: generate_ticker(ticker, start, end, spec) for ticker in tickers}


# -- datasets ---------------------------------------------------------------------------------------------
def datasets_dir(settings: PipelineSettings | None = None) -> Path:
    """Directory holding the synthetic datasets and the ``latest`` pointer."""
    if settings is None:
        from portfolio.settings import load_settings

        settings = load_settings()
    return paths.resolve(settings.synthetic.datasets_dir)


def check_dataset_id(dataset_id: str) -> str:
    """Return ``dataset_id`` if usable as a directory name (and not ``latest``), else raise."""
    if dataset_id == LATEST or not _DATASET_ID.match(dataset_id) or ".." in dataset_id:
        raise DatasetError(f"invalid dataset id {dataset_id!r}: use letters, digits, '_', '.', '-' "
                           "(and not 'latest')")
    return dataset_id


def default_dataset_id(tickers: list[str], start: date, end: date, spec: SyntheticSpec) -> str:
    """A deterministic id: the same request gives the same id (a retried task rewrites the same dataset)."""
    key = json.dumps({"tickers": sorted(tickers), "start": start.isoformat(), "end": end.isoformat(),
                      "spec": spec.as_dict()}, sort_keys=True)
    return f"syn-{end:%Y%m%d}-s{spec.seed}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _combined(files: dict[str, dict[str, Any]]) -> str:
    text = "".join(f"{ticker}:{files[ticker]['sha256']}\n" for ticker in sorted(files))
    return hashlib.sha256(text.encode()).hexdigest()


def save_dataset(tickers: list[str], start: date, end: date, *, spec: SyntheticSpec | None = None,
                 dataset_id: str | None = None, set_latest: bool = True,
                 root: Path | None = None) -> dict[str, Any]:
    """Generate and save a dataset atomically, optionally moving ``latest`` to it; return its manifest."""
    from foundation.pipeline_logger import utc_now_iso

    spec = spec or spec_from_settings()
    root = root or datasets_dir()
    dataset_id = check_dataset_id(dataset_id or default_dataset_id(tickers, start, end, spec))
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{dataset_id}-", dir=root))
    staging.chmod(0o755)
    try:
        files: dict[str, dict[str, Any]] = {}
        for ticker in tickers:
            frame = generate_ticker(ticker, start, end, spec)
            target = staging / f"{ticker}.csv"
            frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d")).to_csv(target, index=False)
            files[ticker] = {"file": target.name, "rows": len(frame), "sha256": _sha256(target)}
        manifest = {"dataset_id": dataset_id, "created_at": utc_now_iso(), "tickers": list(tickers),
                    "start": start.isoformat(), "end": end.isoformat(), "format": "csv", **spec.as_dict(),
                    "files": files, "sha256": _combined(files)}
        write_atomic(staging / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))
        final = root / dataset_id
        if final.exists():
            old = root / f".old-{dataset_id}-{os.getpid()}"
            os.replace(final, old)
            os.replace(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if set_latest:
        write_atomic(root / LATEST, (dataset_id + "\n").encode("utf-8"))
    return manifest


def resolve_dataset_id(dataset_id: str | None = None, *, root: Path | None = None) -> str | None:
    """Explicit id, else the run's (:mod:`portfolio.run_scope`), else ``SYNTHETIC_DATASET_ID``, else config;
    ``latest`` follows the pointer (or None)."""
    if not dataset_id:
        from portfolio.run_scope import current

        inputs = current()
        dataset_id = (inputs.synthetic_dataset_id if inputs else None) or os.environ.get("SYNTHETIC_DATASET_ID")
        dataset_id = dataset_id or None
    if not dataset_id:
        from portfolio.settings import load_settings

        dataset_id = load_settings().synthetic.dataset_id
    if dataset_id != LATEST:
        return check_dataset_id(dataset_id)
    pointer = (root or datasets_dir()) / LATEST
    try:
        named = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return check_dataset_id(named)


def load_manifest(dataset_id: str, *, root: Path | None = None) -> dict[str, Any]:
    """The manifest of ``dataset_id`` (raises :class:`DatasetError` when missing or unreadable)."""
    path = (root or datasets_dir()) / check_dataset_id(dataset_id) / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"synthetic dataset {dataset_id!r} not found ({path})") from None
    except ValueError as exc:
        raise DatasetError(f"{path}: unreadable manifest: {exc}") from None
    return manifest


def load_dataset_ticker(dataset_id: str, ticker: str, *, root: Path | None = None) -> pd.DataFrame:
    """One ticker's bars from a saved dataset, after checking the file's sha256 against the manifest."""
    import pandas as pd

    root = root or datasets_dir()
    manifest = load_manifest(dataset_id, root=root)
    entry = manifest.get("files", {}).get(ticker)
    if entry is None:
        raise DatasetError(f"synthetic dataset {dataset_id!r} has no ticker {ticker!r}")
    path = root / dataset_id / entry["file"]
    if not path.exists() or _sha256(path) != entry["sha256"]:
        raise DatasetError(f"{path}: missing or sha256 mismatch with the manifest of {dataset_id!r}")
    frame = pd.read_csv(path)
    frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d").astype("datetime64[ns]")
    return frame


def list_datasets(root: Path | None = None) -> list[str]:
    """Ids of the saved datasets, oldest first by creation time."""
    root = root or datasets_dir()
    if not root.exists():
        return []
    found = [p for p in root.glob(f"*/{MANIFEST}") if not p.parent.name.startswith(".")]
    return [p.parent.name for p in sorted(found, key=lambda p: p.stat().st_mtime)]
