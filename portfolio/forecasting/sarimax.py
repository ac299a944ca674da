"""SARIMAX (statsmodels) on log returns (``d = 0``) or log prices (``d >= 1``), order from config.

The series is scaled by 100 (percent) for a well-conditioned likelihood. Convergence warnings are silenced
(they arrive once per fit and flood the logs) but recorded: ``converged`` is False when the optimizer did
not report convergence or returned non-finite parameters.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from portfolio.forecasting.common import ForecastError, ModelForecast, log_returns

SCALE = 100.0
MAX_ITER = 200


def _trend(d: int) -> str:
    """Constant for returns, drift for once-differenced log prices, none beyond."""
    return "c" if d == 0 else ("t" if d == 1 else "n")


def _endog(log_prices: np.ndarray, d: int) -> np.ndarray:
    return SCALE * (log_returns(log_prices) if d == 0 else np.asarray(log_prices, dtype=float))


def _model(endog: np.ndarray, order: tuple[int, int, int]) -> Any:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    return SARIMAX(endog, order=order, trend=_trend(order[1]), concentrate_scale=True)


@dataclass
class FittedSarimax:
    """SARIMAX parameters estimated once; forecasts re-run the Kalman filter with them on any history."""

    order: tuple[int, int, int]
    params: np.ndarray
    converged: bool
    note: str | None = None
    name: str = "sarimax"

    def forecast(self, log_prices: np.ndarray, horizon: int) -> ModelForecast:
        """Per-step log returns and sigmas for ``horizon`` steps after ``log_prices``."""
        d = self.order[1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = _model(_endog(log_prices, d), self.order).filter(self.params)
            fc = res.get_forecast(horizon)
        mean = np.asarray(fc.predicted_mean, dtype=float) / SCALE
        se = np.asarray(fc.se_mean, dtype=float) / SCALE
        if d == 0:
            return ModelForecast(self.name, mean, se)
        # log-price forecasts: step returns are differences; step sigma is the increment of the path variance
        path = np.concatenate([[float(log_prices[-1])], mean])
        var = np.concatenate([[0.0], se**2])
        step_sigma = np.sqrt(np.clip(np.diff(var), 1e-16, None))
        return ModelForecast(self.name, np.diff(path), step_sigma)


def fit(log_prices: np.ndarray, order: tuple[int, int, int]) -> FittedSarimax:
    """Estimate SARIMAX ``order`` on ``log_prices``; non-convergence is recorded, not raised."""
    order = (int(order[0]), int(order[1]), int(order[2]))
    endog = _endog(log_prices, order[1])
    if len(endog) < 3 * (sum(order) + 2):
        raise ForecastError(f"sarimax: {len(endog)} observations are too few for order {order}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = _model(endog, order).fit(disp=False, maxiter=MAX_ITER, cov_type="none")
    params = np.asarray(res.params, dtype=float)
    converged = bool(res.mle_retvals.get("converged", True)) if res.mle_retvals else True
    note = None
    if not np.all(np.isfinite(params)):
        converged, note = False, "non-finite parameters"
    elif not converged:
        note = f"optimizer did not converge in {MAX_ITER} iterations"
    elif any("converge" in str(w.message).lower() for w in caught):
        converged, note = False, "convergence warning"
    return FittedSarimax(order=order, params=params, converged=converged, note=note)
