"""Signal routing: the time-series ensemble is the primary source; a momentum rule is the fallback.

**Primary** (``source = time_series``): BUY when the ensemble's horizon expected log return is at least
``min_expected_return`` and its confidence at least ``confidence_threshold``; SELL when the expected return
is at most ``-min_expected_return`` with the same confidence; otherwise HOLD. Both thresholds default to
``signals.*`` in ``config/pipeline.yml`` and are arguments so that the threshold sweep can vary them.

**Fallback** (``source = fallback``), used only when no usable forecast exists (too little history, every
model failed, non-finite output). It stands in for the seed's LLM fallback (there is no LLM here) and is a
plain trend rule with a mean-reversion guard over the last ``FALLBACK_LOOKBACK`` bars:

* momentum ``m = ln(close[-1] / close[-1-L])``; z-score ``z`` of the last close against the window's mean;
* BUY if ``m > 0`` and ``z < 2`` (up-trend, not over-extended); SELL if ``m < 0`` and ``z > -2``; else HOLD;
* expected return = half the trend extrapolated over the forecast horizon; confidence = ``min(0.5, |t| / 4)``
  with ``t`` the trend's t-statistic, so a fallback signal never claims more than 0.5;
* the fallback applies ``min_expected_return`` but not the confidence threshold (its confidence is capped
  below any sensible threshold by design); fewer than ``L + 1`` bars give HOLD with confidence 0.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from foundation.pipeline_logger import utc_now_iso
from portfolio.db_backend import Connection

BUY, SELL, HOLD = "BUY", "SELL", "HOLD"
TIME_SERIES, FALLBACK = "time_series", "fallback"
FALLBACK_LOOKBACK = 20
FALLBACK_MAX_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Signal:
    """One trading decision for one ticker on one bar."""

    ticker: str
    bar: str
    action: str
    confidence: float
    expected_return: float
    source: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form."""
        return asdict(self)


def decide(expected_return: float, confidence: float, *, confidence_threshold: float,
           min_expected_return: float) -> str:
    """BUY / SELL / HOLD from an expected return and a confidence against the two thresholds."""
    if not (math.isfinite(expected_return) and math.isfinite(confidence)):
        return HOLD
    if confidence < confidence_threshold:
        return HOLD
    if expected_return >= min_expected_return and expected_return > 0:
        return BUY
    if expected_return <= -min_expected_return and expected_return < 0:
        return SELL
    return HOLD


def usable_forecast(forecast: Mapping[str, Any] | None) -> bool:
    """Whether ``forecast`` has a finite expected return and a confidence in [0, 1]."""
    if not forecast:
        return False
    er, conf = forecast.get("expected_return"), forecast.get("confidence")
    return (isinstance(er, (int, float)) and isinstance(conf, (int, float)) and math.isfinite(er)
            and math.isfinite(conf) and 0.0 <= conf <= 1.0)


def fallback_signal(ticker: str, bar: str, closes: Sequence[float], *, horizon: int,
                    min_expected_return: float, lookback: int = FALLBACK_LOOKBACK) -> Signal:
    """The documented momentum / mean-reversion fallback rule on the most recent ``closes``."""
    if len(closes) < lookback + 1 or any(c <= 0 or not math.isfinite(c) for c in closes[-lookback - 1:]):
        return Signal(ticker, bar, HOLD, 0.0, 0.0, FALLBACK, f"fewer than {lookback + 1} usable closes")
    window = [math.log(c) for c in closes[-lookback - 1:]]
    rets = [b - a for a, b in itertools.pairwise(window)]
    momentum = window[-1] - window[0]
    mean_r = momentum / lookback
    sd_r = math.sqrt(sum((r - mean_r) ** 2 for r in rets) / (lookback - 1)) if lookback > 1 else 0.0
    level_mean = sum(window[1:]) / lookback
    level_sd = math.sqrt(sum((x - level_mean) ** 2 for x in window[1:]) / (lookback - 1))
    z = (window[-1] - level_mean) / level_sd if level_sd > 0 else 0.0
    t_stat = mean_r / (sd_r / math.sqrt(lookback)) if sd_r > 0 else 0.0
    expected = 0.5 * mean_r * horizon
    confidence = min(FALLBACK_MAX_CONFIDENCE, abs(t_stat) / 4.0)
    if momentum > 0 and z < 2 and expected >= min_expected_return:
        action, reason = BUY, f"up-trend m={momentum:.4f}, z={z:.2f}"
    elif momentum < 0 and z > -2 and expected <= -min_expected_return:
        action, reason = SELL, f"down-trend m={momentum:.4f}, z={z:.2f}"
    else:
        action, reason = HOLD, f"no trend signal m={momentum:.4f}, z={z:.2f}"
    return Signal(ticker, bar, action, round(confidence, 6), round(expected, 6), FALLBACK, reason)


def route_signal(ticker: str, bar: str, forecast: Mapping[str, Any] | None, closes: Sequence[float], *,
                 horizon: int, confidence_threshold: float, min_expected_return: float) -> Signal:
    """Time-series signal when ``forecast`` is usable, else the fallback on ``closes``."""
    if usable_forecast(forecast):
        assert forecast is not None
        er, conf = float(forecast["expected_return"]), float(forecast["confidence"])
        action = decide(er, conf, confidence_threshold=confidence_threshold,
                        min_expected_return=min_expected_return)
        reason = (f"expected {er:.4f} vs min {min_expected_return:.4f}, confidence {conf:.2f} "
                  f"vs {confidence_threshold:.2f}")
        return Signal(ticker, bar, action, conf, er, TIME_SERIES, reason)
    return fallback_signal(ticker, bar, closes, horizon=horizon, min_expected_return=min_expected_return)


def save_signal(conn: Connection, signal: Signal, run_id: str) -> int:
    """Insert ``signal`` into ``signals`` (inside the caller's transaction); return its id."""
    cur = conn.execute(
        "INSERT INTO signals (run_id, ticker, bar, created_at, action, confidence, expected_return, source) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (run_id, signal.ticker, signal.bar, utc_now_iso(), signal.action, float(signal.confidence),
         float(signal.expected_return), signal.source))
    return int(cur.fetchone()[0])
