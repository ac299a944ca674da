"""GARCH(p, q) volatility (``arch``) on percent log returns, constant mean; forecasts rescaled to fractions.

Fitted once; :meth:`FittedGarch.forecast` runs the variance recursion with the fixed parameters on any
history, so a shock at the end of the history raises the forecast volatility of the next steps.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from portfolio.forecasting.common import ForecastError, ModelForecast, log_returns

SCALE = 100.0


def _model(returns_pct: np.ndarray, p: int, q: int) -> Any:
    from arch import arch_model

    return arch_model(returns_pct, mean="Constant", vol="GARCH", p=p, q=q, dist="normal", rescale=False)


@dataclass
class FittedGarch:
    """GARCH parameters (mu, omega, alpha..., beta...) in percent units."""

    p: int
    q: int
    params: np.ndarray
    converged: bool
    note: str | None = None
    name: str = "garch"

    def forecast(self, log_prices: np.ndarray, horizon: int) -> ModelForecast:
        """Constant-mean step returns and GARCH step sigmas for ``horizon`` steps."""
        returns_pct = SCALE * log_returns(log_prices)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fixed = _model(returns_pct, self.p, self.q).fix(self.params)
            fc = fixed.forecast(horizon=horizon, reindex=False)
        mean = np.asarray(fc.mean.values[-1], dtype=float) / SCALE
        sigma = np.sqrt(np.clip(np.asarray(fc.variance.values[-1], dtype=float), 0.0, None)) / SCALE
        return ModelForecast(self.name, mean, sigma)

    @property
    def persistence(self) -> float:
        """alpha + beta: how slowly a volatility shock decays (< 1 for a stationary fit)."""
        return float(np.sum(self.params[2:]))


def fit(log_prices: np.ndarray, p: int = 1, q: int = 1) -> FittedGarch:
    """Estimate GARCH(``p``, ``q``) on the log returns of ``log_prices``; non-convergence is recorded."""
    returns_pct = SCALE * log_returns(log_prices)
    if len(returns_pct) < 10 * (p + q + 2):
        raise ForecastError(f"garch: {len(returns_pct)} returns are too few for GARCH({p},{q})")
    if not np.any(returns_pct):
        raise ForecastError("garch: the price series is constant (zero returns)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = _model(returns_pct, p, q).fit(disp="off", show_warning=False)
    params = np.asarray(res.params, dtype=float)
    converged, note = res.convergence_flag == 0, None
    if not np.all(np.isfinite(params)):
        converged, note = False, "non-finite parameters"
    elif not converged:
        note = f"optimizer flag {res.convergence_flag}"
    return FittedGarch(p=p, q=q, params=params, converged=bool(converged), note=note)
