"""Ensemble of model forecasts: inverse-error weights, GARCH volatility, confidence from agreement and SNR.

* **Expected return**: per step, the weighted mean of the models' step returns; weights are proportional to
  ``1 / (holdout MAPE + eps)`` (equal weights when no holdout score exists).
* **Volatility**: GARCH's step sigmas when GARCH is among the models, else the weighted mean of the models'.
* **Confidence** in [0, 1]: ``agreement * (0.5 + 0.5 * tanh(2 * snr))`` where ``agreement`` is the absolute
  weighted vote of the models' horizon directions (1 = all agree, 0 = evenly split) and ``snr`` is
  ``|horizon return| / horizon sigma``. Disagreeing models give low confidence whatever the magnitude.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from portfolio.forecasting.common import ForecastError, ModelForecast

EPS = 1e-6
NAME = "ensemble"


@dataclass
class EnsembleForecast:
    """The combined forecast plus how it was formed."""

    forecast: ModelForecast
    weights: dict[str, float]
    confidence: float
    agreement: float
    snr: float

    @property
    def expected_return(self) -> float:
        """Horizon (cumulative) expected log return."""
        return self.forecast.cumulative_return

    @property
    def horizon_sigma(self) -> float:
        """Sigma of the horizon log return (steps assumed independent)."""
        return float(np.sqrt(np.sum(self.forecast.step_sigma**2)))


def inverse_error_weights(models: list[str], errors: Mapping[str, float]) -> dict[str, float]:
    """Weights proportional to ``1 / (error + eps)``; models without a finite error share equally."""
    raw = {}
    for m in models:
        err = errors.get(m)
        raw[m] = 1.0 / (err + EPS) if err is not None and math.isfinite(err) and err >= 0 else float("nan")
    finite = [v for v in raw.values() if math.isfinite(v)]
    if len(finite) < len(models):
        fill = float(np.mean(finite)) if finite else 1.0
        raw = {m: (v if math.isfinite(v) else fill) for m, v in raw.items()}
    total = sum(raw.values())
    return {m: v / total for m, v in raw.items()}


def confidence_score(direction_votes: Mapping[str, float], weights: Mapping[str, float], expected: float,
                     horizon_sigma: float) -> tuple[float, float, float]:
    """(confidence, agreement, snr) from the models' horizon returns, their weights and the ensemble's."""
    agreement = abs(sum(weights[m] * float(np.sign(r)) for m, r in direction_votes.items()))
    snr = abs(expected) / horizon_sigma if horizon_sigma > 0 else (0.0 if expected == 0 else 10.0)
    conf = agreement * (0.5 + 0.5 * math.tanh(2.0 * snr))
    return float(min(1.0, max(0.0, conf))), float(agreement), float(snr)


def combine(forecasts: Mapping[str, ModelForecast], errors: Mapping[str, float]) -> EnsembleForecast:
    """Combine finite model forecasts (same horizon) into the ensemble forecast."""
    usable = {m: f for m, f in forecasts.items() if f.is_finite()}
    if not usable:
        raise ForecastError("ensemble: no model produced a finite forecast")
    names = list(usable)
    weights = inverse_error_weights(names, errors)
    steps = np.sum([weights[m] * usable[m].step_returns for m in names], axis=0)
    if "garch" in usable:
        sigma = usable["garch"].step_sigma
    else:
        sigma = np.sum([weights[m] * usable[m].step_sigma for m in names], axis=0)
    combined = ModelForecast(NAME, np.asarray(steps, dtype=float), np.asarray(sigma, dtype=float))
    horizon_sigma = float(np.sqrt(np.sum(combined.step_sigma**2)))
    votes = {m: usable[m].cumulative_return for m in names}
    conf, agreement, snr = confidence_score(votes, weights, combined.cumulative_return, horizon_sigma)
    return EnsembleForecast(combined, weights, conf, agreement, snr)
