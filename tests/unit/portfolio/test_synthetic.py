from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from portfolio import synthetic
from portfolio.calendar import sessions_between
from portfolio.quality import validate_ohlcv
from portfolio.synthetic import RegimeSpec, SyntheticSpec

START, END = date(2019, 1, 2), date(2023, 12, 29)  # five years of sessions


def spec(seed: int = 7, dof: float = 4.0, regimes: tuple[RegimeSpec, ...] | None = None) -> SyntheticSpec:
    return SyntheticSpec(seed=seed, shock_dof=dof, regimes=regimes or (
        RegimeSpec("bull", 0.15, 0.12, 120), RegimeSpec("bear", -0.25, 0.40, 40),
        RegimeSpec("sideways", 0.0, 0.18, 60)))


def log_returns(frame: pd.DataFrame) -> pd.Series:
    return np.log(frame["close"]).diff().dropna()


def test_same_seed_same_frame_different_seed_differs(pmx_home: Path) -> None:
    a = synthetic.generate_ticker("AAPL", START, END, spec(seed=1))
    b = synthetic.generate_ticker("AAPL", START, END, spec(seed=1))
    c = synthetic.generate_ticker("AAPL", START, END, spec(seed=2))
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["close"].to_numpy(), c["close"].to_numpy())


def test_ticker_series_independent_of_other_tickers_and_of_the_window(pmx_home: Path) -> None:
    alone = synthetic.generate_ticker("MSFT", START, END, spec())
    together = synthetic.generate(["AAPL", "MSFT", "NVDA"], START, END, spec())
    pd.testing.assert_frame_equal(alone, together["MSFT"])
    assert not together["AAPL"]["close"].equals(together["MSFT"]["close"]), "each ticker has its own stream"
    window = synthetic.generate_ticker("MSFT", date(2021, 3, 1), date(2021, 6, 30), spec())
    sliced = alone[(alone["date"] >= "2021-03-01") & (alone["date"] <= "2021-06-30")].reset_index(drop=True)
    pd.testing.assert_frame_equal(window, sliced)


def test_sessions_follow_the_exchange_calendar_and_pass_quality(pmx_home: Path) -> None:
    frame = synthetic.generate_ticker("JPM", START, END, spec())
    assert [d.date() for d in frame["date"]] == sessions_between(START, END)
    validate_ohlcv(frame.drop(columns="regime"), "JPM", "XNYS")


def test_regimes_are_present_and_differ_in_volatility(pmx_home: Path) -> None:
    frame = synthetic.generate_ticker("XOM", START, END, spec())
    assert set(frame["regime"]) == {"bull", "bear", "sideways"}
    returns = log_returns(frame)
    regime = frame["regime"].iloc[1:]
    vol = returns.groupby(regime.to_numpy()).std()
    assert vol["bear"] > 2 * vol["bull"], vol.to_dict()
    switches = int((frame["regime"] != frame["regime"].shift()).sum()) - 1
    assert switches >= 5, "regimes alternate over five years"


def test_single_regime_config_never_switches(pmx_home: Path) -> None:
    frame = synthetic.generate_ticker("XOM", START, END, spec(regimes=(RegimeSpec("only", 0.05, 0.2, 50),)))
    assert set(frame["regime"]) == {"only"}


def test_student_t_shocks_have_fat_tails(pmx_home: Path) -> None:
    one = (RegimeSpec("flat", 0.0, 0.2, 10_000),)
    fat = [log_returns(synthetic.generate_ticker(t, START, END, spec(dof=3.5, regimes=one))).kurt()
           for t in ("AAA", "BBB", "CCC")]
    thin = [log_returns(synthetic.generate_ticker(t, START, END, spec(dof=200, regimes=one))).kurt()
            for t in ("AAA", "BBB", "CCC")]
    assert min(fat) > 1.0, f"excess kurtosis with 3.5 degrees of freedom: {fat}"
    assert max(thin) < 0.6, f"excess kurtosis near a normal: {thin}"


def test_bad_windows_are_refused(pmx_home: Path) -> None:
    with pytest.raises(ValueError, match="synthetic data starts at 2000-01-03"):
        synthetic.generate_ticker("AAPL", date(1999, 6, 1), END, spec())
    with pytest.raises(ValueError, match="AAPL: start 2024-02-01 is after end 2024-01-01"):
        synthetic.generate_ticker("AAPL", date(2024, 2, 1), date(2024, 1, 1), spec())


def test_saved_dataset_has_manifest_checksums_and_latest_pointer(pmx_home: Path) -> None:
    manifest = synthetic.save_dataset(["AAPL", "MSFT"], START, END, spec=spec(seed=11))
    root = pmx_home / "data" / "synthetic"
    folder = root / manifest["dataset_id"]
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk == manifest
    assert {k: manifest[k] for k in ("seed", "tickers", "start", "end")} == {
        "seed": 11, "tickers": ["AAPL", "MSFT"], "start": "2019-01-02", "end": "2023-12-29"}
    assert manifest["created_at"].endswith("Z") and len(manifest["sha256"]) == 64
    for ticker, entry in manifest["files"].items():
        assert entry["rows"] == len(sessions_between(START, END))
        assert hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest() == entry["sha256"], ticker
    assert (root / "latest").read_text().strip() == manifest["dataset_id"]
    assert synthetic.resolve_dataset_id() == manifest["dataset_id"]
    latest = synthetic.resolve_dataset_id("latest")
    assert latest == manifest["dataset_id"]
    loaded = synthetic.load_dataset_ticker(latest, "MSFT")
    pd.testing.assert_frame_equal(loaded, synthetic.generate_ticker("MSFT", START, END, spec(seed=11)))


def test_same_request_same_id_and_no_latest_keeps_pointer(pmx_home: Path) -> None:
    first = synthetic.save_dataset(["AAPL"], START, END, spec=spec())
    again = synthetic.save_dataset(["AAPL"], START, END, spec=spec())
    assert again["dataset_id"] == first["dataset_id"] and again["sha256"] == first["sha256"]
    other = synthetic.save_dataset(["AAPL"], START, END, spec=spec(seed=99), set_latest=False)
    assert other["dataset_id"] != first["dataset_id"]
    assert synthetic.resolve_dataset_id() == first["dataset_id"]
    assert set(synthetic.list_datasets()) == {first["dataset_id"], other["dataset_id"]}
    leftovers = [p for p in (pmx_home / "data" / "synthetic").iterdir() if p.name.startswith(".")]
    assert not leftovers, "no temp dirs are left behind"


def test_dataset_id_from_environment_then_config(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert synthetic.resolve_dataset_id() is None, "no dataset yet and config says latest"
    a = synthetic.save_dataset(["AAPL"], START, END, spec=spec(seed=1), dataset_id="ds-a")
    synthetic.save_dataset(["AAPL"], START, END, spec=spec(seed=2), dataset_id="ds-b")
    monkeypatch.setenv("SYNTHETIC_DATASET_ID", a["dataset_id"])
    assert synthetic.resolve_dataset_id() == "ds-a"
    assert synthetic.resolve_dataset_id("ds-b") == "ds-b"


@pytest.mark.parametrize("bad", ["latest", "../escape", "", "a b", ".hidden"], ids=lambda v: repr(v))
def test_invalid_dataset_ids_are_refused(pmx_home: Path, bad: str) -> None:
    with pytest.raises(synthetic.DatasetError, match="invalid dataset id"):
        synthetic.check_dataset_id(bad)


def test_tampered_or_missing_dataset_is_an_error(pmx_home: Path) -> None:
    manifest = synthetic.save_dataset(["AAPL"], START, END, spec=spec(), dataset_id="ds-t")
    path = pmx_home / "data" / "synthetic" / "ds-t" / manifest["files"]["AAPL"]["file"]
    path.write_text(path.read_text().replace("bull", "bear", 1))
    with pytest.raises(synthetic.DatasetError, match="sha256 mismatch"):
        synthetic.load_dataset_ticker("ds-t", "AAPL")
    with pytest.raises(synthetic.DatasetError, match="has no ticker 'MSFT'"):
        synthetic.load_dataset_ticker("ds-t", "MSFT")
    with pytest.raises(synthetic.DatasetError, match="'nope' not found"):
        synthetic.load_manifest("nope")


def test_spec_comes_from_config(pmx_home: Path) -> None:
    configured = synthetic.spec_from_settings()
    assert configured.seed == 42 and [r.name for r in configured.regimes] == ["bull", "bear", "sideways"]
    assert synthetic.spec_from_settings(seed=5).seed == 5
    assert synthetic.SyntheticSpec.from_dict(configured.as_dict()) == configured
