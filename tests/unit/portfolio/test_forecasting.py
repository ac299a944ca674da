"""Forecasting: each model on a known series, holdout scoring, ensemble, persistence keyed by run id."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from foundation.pipeline_logger import read_events
from portfolio.database_manager import DatabaseManager
from portfolio.forecasting import ForecastError, forecast_series, forecast_ticker, garch, sarimax, ssa
from portfolio.forecasting.common import ModelForecast
from portfolio.forecasting.ensemble import combine, inverse_error_weights
from portfolio.forecasting.evaluation import holdout_origins, score_paths
from portfolio.forecasting.store import latest_forecast, next_sessions
from portfolio.settings import PipelineSettings, load_settings
from tests.trading_support import StatsdSink, count_rows, random_walk, seed_ohlcv


def settings_with(**forecasting: object) -> PipelineSettings:
    base = load_settings()
    return base.model_copy(update={"forecasting": base.forecasting.model_copy(update=forecasting)})


# -- models on known series ------------------------------------------------------------------------------
@pytest.mark.parametrize("noise", [0.0, 0.02], ids=["exact", "noisy"])
def test_ssa_recovers_and_continues_a_sinusoid(noise: float) -> None:
    t = np.arange(230)
    signal = 5.0 + np.sin(2 * np.pi * t / 20)
    observed = signal[:200] + np.random.default_rng(0).normal(0, noise, 200)
    recon, future = ssa.forecast_values(observed, window=40, rank=3, horizon=30)
    tolerance = 1e-6 if noise == 0 else 0.05
    assert np.max(np.abs(future - signal[200:])) < tolerance
    assert np.max(np.abs(recon - signal[:200])) < max(tolerance, 3 * noise)


def test_ssa_rejects_a_window_too_long_for_the_series() -> None:
    with pytest.raises(ForecastError, match="ssa_window=40 needs at least 80 bars"):
        ssa.fit(np.zeros(50), window=40, rank=3)


def _garch_returns(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    omega, alpha, beta = 0.05, 0.12, 0.83  # percent units
    var, out = omega / (1 - alpha - beta), []
    for _ in range(n):
        r = math.sqrt(var) * rng.standard_normal()
        out.append(r)
        var = omega + alpha * r * r + beta * var
    return np.asarray(out) / 100.0


def test_garch_volatility_rises_after_a_shock() -> None:
    lp = np.log(100) + np.concatenate([[0.0], np.cumsum(_garch_returns(1500, seed=3))])
    fitted = garch.fit(lp, 1, 1)
    assert fitted.converged
    assert fitted.params[2] > 0  # alpha: shocks feed the variance
    calm = fitted.forecast(lp, 5)
    shocked = fitted.forecast(np.append(lp, lp[-1] - 0.08), 5)
    assert shocked.step_sigma[0] > 1.5 * calm.step_sigma[0]
    assert np.all(np.diff(shocked.step_sigma) < 0)  # and decays back towards the long-run level
    assert calm.is_finite() and shocked.is_finite()


@pytest.mark.parametrize("phi", [0.6, -0.6], ids=["positive-ar", "negative-ar"])
def test_sarimax_recovers_the_sign_of_an_ar1_coefficient(phi: float) -> None:
    rng = np.random.default_rng(11)
    r = np.zeros(400)
    for i in range(1, 400):
        r[i] = phi * r[i - 1] + rng.normal(0, 0.01)
    lp = np.log(50) + np.concatenate([[0.0], np.cumsum(r)])
    fitted = sarimax.fit(lp, (1, 0, 0))
    ar = fitted.params[1]  # [const, ar.L1] (scale concentrated out)
    assert np.sign(ar) == np.sign(phi) and abs(ar - phi) < 0.15
    fc = fitted.forecast(lp, 3)
    assert np.sign(fc.step_returns[0] - fitted.params[0] / 100) == np.sign(phi * r[-1])
    assert fc.is_finite() and np.all(fc.step_sigma > 0)


@pytest.mark.parametrize("order", [(1, 0, 1), (0, 1, 1), (1, 1, 0)],
                         ids=["returns-arma", "prices-ima", "prices-ari"])
def test_sarimax_forecasts_finite_values_on_returns_and_on_prices(order: tuple[int, int, int]) -> None:
    lp = np.log(random_walk(300, seed=5))
    fc = sarimax.fit(lp, order).forecast(lp, 5)
    assert fc.is_finite() and fc.step_returns.shape == (5,) and np.all(fc.step_sigma > 0)
    assert np.all(np.abs(fc.step_returns) < 0.05)


def test_sarimax_non_convergence_is_recorded_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sarimax, "MAX_ITER", 1)
    fitted = sarimax.fit(np.log(random_walk(300, seed=2)), (2, 0, 2))
    assert fitted.converged is False and fitted.note


# -- holdout and ensemble --------------------------------------------------------------------------------
def test_holdout_scores_on_prices() -> None:
    lp = np.log(np.array([100.0, 100, 100, 110, 90, 100, 100]))
    origins = holdout_origins(len(lp), horizon=2, folds=2)
    assert origins == [3, 5]
    score = score_paths(lp, origins, [np.array([110.0, 101.0]), np.array([100.0, 100.0])])
    # fold 1 (base 100, actual 110, 90): errors 0 and 11/90; fold 2 (base 90, actual 100, 100): exact
    assert score.mape == pytest.approx((11 / 90) / 4)
    assert score.rmse == pytest.approx(math.sqrt(121 / 4))
    # directions: fold 1 (+,+) vs (+,-), fold 2 (+,+) vs (+,+) -> 3 of 4
    assert score.directional_accuracy == pytest.approx(0.75)


def test_inverse_error_weights() -> None:
    w = inverse_error_weights(["a", "b", "c"], {"a": 0.01, "b": 0.02, "c": float("nan")})
    assert w["a"] == pytest.approx(2 * w["b"], rel=1e-3)
    assert sum(w.values()) == pytest.approx(1.0)
    assert w["c"] == pytest.approx((w["a"] + w["b"]) / 2, rel=1e-3)  # unknown error: the mean weight


def _fc(name: str, step: float, sigma: float = 0.01) -> ModelForecast:
    return ModelForecast(name, np.full(5, step), np.full(5, sigma))


@pytest.mark.parametrize(("steps", "low", "high"), [
    ((0.002, 0.002, 0.002), 0.5, 1.0),
    ((0.002, -0.002), 0.0, 1e-9),
    ((0.0, 0.0, 0.0), 0.0, 1e-9),
], ids=["all-agree", "split-evenly", "no-direction"])
def test_ensemble_confidence_follows_agreement(steps: tuple[float, ...], low: float, high: float) -> None:
    forecasts = {f"m{i}": _fc(f"m{i}", s) for i, s in enumerate(steps)}
    ens = combine(forecasts, {m: 0.01 for m in forecasts})
    assert low <= ens.confidence <= high
    assert 0.0 <= ens.confidence <= 1.0


def test_ensemble_takes_volatility_from_garch_and_skips_non_finite_models() -> None:
    forecasts = {"sarimax": _fc("sarimax", 0.001, 0.5), "garch": _fc("garch", 0.0005, 0.02),
                 "ssa": _fc("ssa", float("nan"))}
    ens = combine(forecasts, {"sarimax": 0.01, "garch": 0.01, "ssa": 0.001})
    assert set(ens.weights) == {"sarimax", "garch"}
    assert np.allclose(ens.forecast.step_sigma, 0.02)
    assert ens.expected_return == pytest.approx(5 * 0.00075)


def test_forecast_series_runs_every_model_and_the_ensemble() -> None:
    cfg = settings_with(models=["sarimax", "garch", "ssa"]).forecasting
    result = forecast_series(random_walk(200, seed=4), "2024-01-05", cfg)
    assert set(result.models) == {"sarimax", "garch", "ssa"}
    assert set(result.scores) == {"sarimax", "garch", "ssa", "ensemble"}
    for score in result.scores.values():
        assert score.mape >= 0 and score.rmse >= 0 and 0 <= score.directional_accuracy <= 1
    assert all(f.is_finite() for f in result.models.values())
    assert 0.0 <= result.ensemble.confidence <= 1.0 and not result.failed


def test_forecast_series_reports_a_failing_model_and_keeps_the_others() -> None:
    cfg = settings_with(models=["garch", "ssa"], ssa_window=150).forecasting  # 2 x 150 > 200 - holdout
    result = forecast_series(random_walk(200, seed=4), "2024-01-05", cfg)
    assert list(result.models) == ["garch"] and "ssa_window=150" in result.failed["ssa"]


def test_next_sessions_skips_weekends_and_holidays() -> None:
    assert next_sessions("2024-07-03", 3) == ["2024-07-05", "2024-07-08", "2024-07-09"]


# -- forecast_ticker: persistence, errors, metrics -------------------------------------------------------
def _db() -> DatabaseManager:
    return DatabaseManager()


def test_forecast_ticker_persists_by_run_id_and_a_rerun_replaces(pmx_home: Path) -> None:
    db = _db()
    dates = seed_ohlcv(db, "AAPL", random_walk(160, seed=8))
    settings = settings_with(models=["garch", "ssa"])
    out = forecast_ticker(db, "AAPL", "run-1", settings)
    assert out["as_of"] == dates[-1] and out["models"] == ["garch", "ssa"] and out["rows"] == 160
    assert set(out["mape"]) == {"garch", "ssa", "ensemble"} and set(out["fit_seconds"]) == {"garch", "ssa"}
    assert math.isfinite(out["expected_return"]) and 0 <= out["confidence"] <= 1 and out["volatility"] > 0
    first = count_rows(db, "forecasts", "forecast_metrics")
    assert first == {"forecasts": 3 * 5, "forecast_metrics": 3}
    forecast_ticker(db, "AAPL", "run-1", settings)
    assert count_rows(db, "forecasts", "forecast_metrics") == first
    forecast_ticker(db, "AAPL", "run-2", settings)
    assert count_rows(db, "forecasts", "forecast_metrics") == {"forecasts": 30, "forecast_metrics": 6}
    conn = db.connect()
    try:
        latest = latest_forecast(conn, "AAPL", as_of=dates[-1])
        targets = [r[0] for r in conn.execute("SELECT target_date FROM forecasts WHERE run_id = 'run-2' AND "
                                              "model = 'ensemble' ORDER BY step")]
        converged = {r[0]: r[1] for r in conn.execute("SELECT model, converged FROM forecast_metrics")}
    finally:
        conn.close()
    assert latest is not None and latest["horizon"] == 5
    assert latest["expected_return"] == pytest.approx(out["expected_return"], abs=1e-5)
    assert latest["confidence"] == pytest.approx(out["confidence"], abs=1e-5)
    assert targets == next_sessions(dates[-1], 5) and targets[0] > dates[-1]
    assert converged == {"garch": 1, "ssa": 1, "ensemble": None}


def test_forecast_ticker_with_too_short_history_names_ticker_and_rows(pmx_home: Path) -> None:
    db = _db()
    seed_ohlcv(db, "MSFT", random_walk(50, seed=1))
    with pytest.raises(ForecastError, match=r"MSFT: 50 rows of history in ohlcv; forecasting.min_history "
                                            r"requires 120"):
        forecast_ticker(db, "MSFT", "run-1")
    assert count_rows(db, "forecasts")["forecasts"] == 0
    assert any(e["event"] == "forecast_failed" and e["ticker"] == "MSFT" for e in read_events())


def test_forecast_ticker_records_non_convergence(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _db()
    seed_ohlcv(db, "AAPL", random_walk(160, seed=8))
    monkeypatch.setattr(sarimax, "MAX_ITER", 1)
    out = forecast_ticker(db, "AAPL", "run-1", settings_with(models=["sarimax"], sarimax_order=(2, 0, 2)))
    assert out["converged"] == {"sarimax": False}
    conn = db.connect()
    try:
        flag = conn.execute("SELECT converged FROM forecast_metrics WHERE model = 'sarimax'").fetchone()[0]
    finally:
        conn.close()
    assert flag == 0
    assert any(e["event"] == "forecast_nonconvergence" and e["model"] == "sarimax" for e in read_events())


def test_forecast_ticker_emits_error_and_count_metrics(pmx_home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    db = _db()
    seed_ohlcv(db, "AAPL", random_walk(160, seed=8))
    sink = StatsdSink(monkeypatch)
    try:
        forecast_ticker(db, "AAPL", "run-1", settings_with(models=["ssa"]))
        lines = sink.lines()
    finally:
        sink.close()
    assert any(line.startswith("pmx.forecast.error,ticker=AAPL,model=ssa:") and line.endswith("|g")
               for line in lines)
    assert "pmx.forecast.count,model=ensemble:1|c" in lines and "pmx.forecast.count,model=ssa:1|c" in lines


def test_parallel_forecasts_give_the_same_result(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = settings_with(models=["garch", "ssa"]).forecasting
    closes = random_walk(180, seed=9)
    serial = forecast_series(closes, "2024-01-05", cfg)
    parallel = forecast_series(closes, "2024-01-05", cfg, parallel=True)
    assert parallel.ensemble.expected_return == pytest.approx(serial.ensemble.expected_return)
    assert parallel.ensemble.confidence == pytest.approx(serial.ensemble.confidence)
