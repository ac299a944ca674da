"""Fit the configured models on one ticker's closes, score them on a holdout, combine, persist, report.

Each model is fitted **once**, on the history before the holdout; the holdout folds and the final forecast
reuse those parameters (SARIMAX re-filters, GARCH re-runs its variance recursion, SSA re-decomposes), which
keeps a ticker at one optimizer run per model and the holdout honest (no fold sees data its fit used).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from portfolio.forecasting import garch, sarimax, ssa
from portfolio.forecasting.common import FittedModel, ForecastError, HoldoutScore, ModelForecast
from portfolio.forecasting.ensemble import EnsembleForecast, combine
from portfolio.forecasting.evaluation import holdout_origins, holdout_score, score_paths

if TYPE_CHECKING:
    from portfolio.settings import Forecasting

MIN_TRAIN = 30


@dataclass
class SeriesForecast:
    """Everything one forecast run produced for one series."""

    as_of: str
    last_close: float
    horizon: int
    rows: int
    models: dict[str, ModelForecast]
    scores: dict[str, HoldoutScore]
    fit_seconds: dict[str, float]
    converged: dict[str, bool]
    ensemble: EnsembleForecast
    notes: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def fit_model(name: str, log_prices: np.ndarray, cfg: Forecasting) -> FittedModel:
    """Fit model ``name`` (sarimax | garch | ssa) with its settings from ``cfg``."""
    if name == "sarimax":
        return sarimax.fit(log_prices, cfg.sarimax_order)
    if name == "garch":
        return garch.fit(log_prices, cfg.garch_p, cfg.garch_q)
    if name == "ssa":
        return ssa.fit(log_prices, cfg.ssa_window, cfg.ssa_rank)
    raise ForecastError(f"forecasting.models: unknown model {name!r}")


def _run_model(name: str, lp: np.ndarray,
               cfg: Forecasting) -> tuple[FittedModel, HoldoutScore, ModelForecast, float]:
    started = time.perf_counter()
    holdout = cfg.horizon * cfg.holdout_folds
    fitted = fit_model(name, lp[:-holdout], cfg)
    score = holdout_score(fitted.forecast, lp, cfg.horizon, cfg.holdout_folds)
    final = fitted.forecast(lp, cfg.horizon)
    if not final.is_finite():
        raise ForecastError(f"{name}: non-finite forecast")
    return fitted, score, final, time.perf_counter() - started


def _ensemble_score(lp: np.ndarray, cfg: Forecasting, scores: dict[str, HoldoutScore],
                    weights: dict[str, float]) -> HoldoutScore:
    """Holdout score of the weighted combination (log price paths combine linearly)."""
    origins = holdout_origins(len(lp), cfg.horizon, cfg.holdout_folds)
    paths = []
    for f in range(len(origins)):
        log_path = sum(weights[m] * np.log(scores[m].fold_paths[f]) for m in weights)
        paths.append(np.exp(np.asarray(log_path)))
    return score_paths(lp, origins, paths)


def forecast_series(closes: Sequence[float], as_of: str, cfg: Forecasting, *, parallel: bool = False,
                    label: str = "series") -> SeriesForecast:
    """Fit, score and combine the configured models on ``closes`` (oldest first, last bar = ``as_of``)."""
    values = np.asarray(closes, dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ForecastError(f"{label}: closes must be finite and positive")
    holdout = cfg.horizon * cfg.holdout_folds
    if len(values) - holdout < MIN_TRAIN:
        raise ForecastError(f"{label}: {len(values)} bars leave fewer than {MIN_TRAIN} for training after a "
                            f"holdout of {holdout} (forecasting.horizon x holdout_folds)")
    lp = np.log(values)
    names: list[str] = list(dict.fromkeys(cfg.models))
    if parallel and len(names) > 1:
        with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="forecast") as pool:
            futures = {n: pool.submit(_run_model, n, lp, cfg) for n in names}
            outcomes: dict[str, Any] = {}
            for n, fut in futures.items():
                try:
                    outcomes[n] = fut.result()
                except (ForecastError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                    outcomes[n] = exc
    else:
        outcomes = {}
        for n in names:
            try:
                outcomes[n] = _run_model(n, lp, cfg)
            except (ForecastError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                outcomes[n] = exc
    models: dict[str, ModelForecast] = {}
    scores: dict[str, HoldoutScore] = {}
    seconds: dict[str, float] = {}
    converged: dict[str, bool] = {}
    notes: dict[str, str] = {}
    failed: dict[str, str] = {}
    for n, out in outcomes.items():
        if isinstance(out, Exception):
            failed[n] = f"{type(out).__name__}: {out}"
            continue
        fitted, score, final, secs = out
        models[n], scores[n], seconds[n], converged[n] = final, score, secs, fitted.converged
        if fitted.note:
            notes[n] = fitted.note
    if not models:
        reasons = "; ".join(f"{k}: {v}" for k, v in failed.items())
        raise ForecastError(f"{label}: every model failed: {reasons}")
    ens = combine(models, {m: s.mape for m, s in scores.items()})
    scores["ensemble"] = _ensemble_score(lp, cfg, scores, ens.weights)
    return SeriesForecast(as_of=as_of, last_close=float(values[-1]), horizon=cfg.horizon, rows=len(values),
                          models=models, scores=scores, fit_seconds=seconds, converged=converged,
                          ensemble=ens, notes=notes, failed=failed)


def parallel_enabled(default: bool) -> bool:
    """The run's ``enable_parallel_forecasts`` (:mod:`portfolio.run_scope`), else ``ENABLE_PARALLEL_FORECASTS``
    from the environment, else ``default`` (runtime config)."""
    from portfolio.params import parse_bool
    from portfolio.run_scope import current

    inputs = current()
    if inputs is not None:
        return inputs.params.enable_parallel_forecasts

    parsed = parse_bool("ENABLE_PARALLEL_FORECASTS", os.environ.get("ENABLE_PARALLEL_FORECASTS") or None)
    return default if parsed is None else parsed


def summary(ticker: str, run_id: str, result: SeriesForecast) -> dict[str, Any]:
    """The small JSON-friendly summary returned to callers (no arrays)."""
    def r(x: float) -> float | None:
        return round(x, 6) if math.isfinite(x) else None

    return {
        "ticker": ticker, "run_id": run_id, "as_of": result.as_of, "rows": result.rows,
        "horizon": result.horizon,
        "models": list(result.models), "expected_return": r(result.ensemble.expected_return),
        "volatility": r(float(result.ensemble.forecast.step_sigma[0])),
        "horizon_volatility": r(result.ensemble.horizon_sigma), "confidence": r(result.ensemble.confidence),
        "weights": {m: r(w) for m, w in result.ensemble.weights.items()},
        "mape": {m: r(s.mape) for m, s in result.scores.items()},
        "directional_accuracy": {m: r(s.directional_accuracy) for m, s in result.scores.items()},
        "fit_seconds": {m: round(s, 4) for m, s in result.fit_seconds.items()},
        "converged": dict(result.converged), "notes": dict(result.notes), "failed": dict(result.failed),
    }
