"""Types shared by the forecasting models: a model forecast, the fitted-model protocol, the error class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


class ForecastError(ValueError):
    """A forecast could not be produced; the message names the ticker, model or setting and the value."""


@dataclass
class ModelForecast:
    """One model's forecast: per-step log returns and per-step return sigmas over the horizon."""

    model: str
    step_returns: np.ndarray
    step_sigma: np.ndarray

    @property
    def cumulative_return(self) -> float:
        """Expected log return over the whole horizon."""
        return float(np.sum(self.step_returns))

    def is_finite(self) -> bool:
        """Whether every number of the forecast is finite (a fit can diverge)."""
        return bool(np.all(np.isfinite(self.step_returns)) and np.all(np.isfinite(self.step_sigma)))


class FittedModel(Protocol):
    """A model fitted once; :meth:`forecast` reuses its parameters on any history (holdout folds, final)."""

    name: str
    converged: bool
    note: str | None

    def forecast(self, log_prices: np.ndarray, horizon: int) -> ModelForecast:
        """Forecast ``horizon`` steps after the last value of ``log_prices``."""
        ...


@dataclass
class HoldoutScore:
    """Holdout backtest errors of one model: MAPE (fraction) and RMSE on prices, directional accuracy."""

    mape: float
    rmse: float
    directional_accuracy: float
    fold_paths: list[np.ndarray] = field(default_factory=list)  # predicted price paths, one per fold

    def as_dict(self) -> dict[str, float]:
        """The three scores as a plain dict."""
        return {"mape": self.mape, "rmse": self.rmse, "directional_accuracy": self.directional_accuracy}


def log_returns(log_prices: np.ndarray) -> np.ndarray:
    """First differences of a log-price series."""
    return np.diff(np.asarray(log_prices, dtype=float))
