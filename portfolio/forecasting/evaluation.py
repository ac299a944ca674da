"""Short holdout backtest: forecasts from the last ``folds`` origins, ``horizon`` bars apart, fixed params.

Errors are measured on prices: MAPE (fraction), RMSE (price units) and directional accuracy (share of steps
whose predicted cumulative return from the origin has the sign of the realised one).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from portfolio.forecasting.common import HoldoutScore, ModelForecast


def holdout_origins(n: int, horizon: int, folds: int) -> list[int]:
    """Indices where each fold's forecast starts (the history is ``[:origin]``)."""
    return [n - (folds - f) * horizon for f in range(folds)]


def price_path(last_log_price: float, forecast: ModelForecast) -> np.ndarray:
    """Forecast prices from the last log price and the step log returns."""
    return np.asarray(np.exp(last_log_price + np.cumsum(forecast.step_returns)))


def score_paths(log_prices: np.ndarray, origins: list[int], paths: list[np.ndarray]) -> HoldoutScore:
    """MAPE/RMSE/direction of predicted price ``paths`` against the realised prices after each origin."""
    lp = np.asarray(log_prices, dtype=float)
    ape, se, hits = [], [], []
    for origin, path in zip(origins, paths, strict=True):
        actual = np.exp(lp[origin:origin + len(path)])
        base = np.exp(lp[origin - 1])
        ape.extend(np.abs(path - actual) / actual)
        se.extend((path - actual) ** 2)
        hits.extend(np.sign(path - base) == np.sign(actual - base))
    return HoldoutScore(mape=float(np.mean(ape)), rmse=float(np.sqrt(np.mean(se))),
                        directional_accuracy=float(np.mean(hits)), fold_paths=list(paths))


def holdout_score(forecast_fn: Callable[[np.ndarray, int], ModelForecast], log_prices: np.ndarray,
                  horizon: int, folds: int) -> HoldoutScore:
    """Score ``forecast_fn(history, horizon)`` over the holdout folds of ``log_prices``."""
    lp = np.asarray(log_prices, dtype=float)
    origins = holdout_origins(len(lp), horizon, folds)
    paths = [price_path(float(lp[o - 1]), forecast_fn(lp[:o], horizon)) for o in origins]
    return score_paths(lp, origins, paths)
