"""Singular spectrum analysis (numpy only): embed, SVD, rank-r reconstruction, recurrent (LRF) forecast.

Applied to log prices. The trajectory (Hankel) matrix of window ``L`` is decomposed by SVD; the leading
``rank`` components are diagonal-averaged back into a denoised series; the linear recurrence formula built
from the left singular vectors continues that series. Step returns are the differences of the continued,
denoised path (so the forecast is the signal's continuation, not a bet on the last bar's noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from portfolio.forecasting.common import ForecastError, ModelForecast, log_returns

VERTICALITY_LIMIT = 0.99  # nu^2 close to 1: the recurrence is undefined


def trajectory(series: np.ndarray, window: int) -> np.ndarray:
    """The ``window`` x ``K`` Hankel matrix of ``series`` (K = n - window + 1)."""
    n = len(series)
    k = n - window + 1
    idx = np.arange(window)[:, None] + np.arange(k)[None, :]
    return np.asarray(series, dtype=float)[idx]


def diagonal_average(matrix: np.ndarray) -> np.ndarray:
    """Average the anti-diagonals of ``matrix`` back into a series (Hankelisation)."""
    rows, cols = matrix.shape
    total = np.zeros(rows + cols - 1)
    counts = np.zeros(rows + cols - 1)
    for i in range(rows):
        total[i:i + cols] += matrix[i]
        counts[i:i + cols] += 1
    return total / counts


def decompose(series: np.ndarray, window: int, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Rank-``rank`` reconstruction of ``series`` and the leading left singular vectors (window x rank)."""
    x = trajectory(series, window)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    r = min(rank, len(s))
    approx = (u[:, :r] * s[:r]) @ vt[:r]
    return diagonal_average(approx), u[:, :r]


def recurrence(u_r: np.ndarray) -> np.ndarray | None:
    """Coefficients of the linear recurrence formula (length window - 1), or None when undefined."""
    pi = u_r[-1, :]
    nu2 = float(pi @ pi)
    if nu2 >= VERTICALITY_LIMIT:
        return None
    return (u_r[:-1, :] @ pi) / (1.0 - nu2)


def forecast_values(series: np.ndarray, window: int, rank: int,
                    horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Reconstructed series and its ``horizon`` recurrent continuation values."""
    recon, u_r = decompose(series, window, rank)
    coef = recurrence(u_r)
    if coef is None:
        return recon, np.full(horizon, recon[-1])
    path = list(recon[-(window - 1):])
    out = []
    for _ in range(horizon):
        nxt = float(np.dot(coef, path[-(window - 1):]))
        out.append(nxt)
        path.append(nxt)
    return recon, np.asarray(out)


@dataclass
class FittedSsa:
    """SSA has no estimated parameters: window and rank are settings; each forecast re-decomposes."""

    window: int
    rank: int
    converged: bool = True
    note: str | None = None
    name: str = "ssa"

    def forecast(self, log_prices: np.ndarray, horizon: int) -> ModelForecast:
        """Step log returns of the continued denoised path; sigma from recent realised returns."""
        lp = np.asarray(log_prices, dtype=float)
        recon, future = forecast_values(lp, self.window, self.rank, horizon)
        steps = np.diff(np.concatenate([[recon[-1]], future]))
        recent = log_returns(lp[-4 * self.window:])
        sigma = float(np.std(recent, ddof=1)) if len(recent) > 1 else 0.0
        return ModelForecast(self.name, steps, np.full(horizon, sigma))


def fit(log_prices: np.ndarray, window: int, rank: int) -> FittedSsa:
    """Check that ``window``/``rank`` suit the series (n >= 2 * window, rank < window)."""
    n = len(log_prices)
    if window < 4 or n < 2 * window:
        raise ForecastError(f"ssa: forecasting.ssa_window={window} needs at least {2 * window} bars, got {n}")
    if rank >= window:
        raise ForecastError(f"ssa: forecasting.ssa_rank={rank} must be below ssa_window={window}")
    return FittedSsa(window=window, rank=rank)
