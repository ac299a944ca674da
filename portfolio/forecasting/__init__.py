"""Time-series forecasting: SARIMAX, GARCH volatility, SSA and their ensemble, persisted per run id.

:func:`forecast_ticker` is the one entry point the ETL and the auto-trader call. statsmodels and arch are
imported only when a model is fitted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portfolio.forecasting.common import ForecastError, ModelForecast
from portfolio.forecasting.runner import SeriesForecast, forecast_series, parallel_enabled, summary
from portfolio.forecasting.store import latest_forecast, load_closes, next_sessions, save_forecast

if TYPE_CHECKING:
    from portfolio.database_manager import DatabaseManager
    from portfolio.settings import PipelineSettings

__all__ = ["ForecastError", "ModelForecast", "SeriesForecast", "forecast_series", "forecast_ticker",
           "latest_forecast"]


def forecast_ticker(db: DatabaseManager, ticker: str, run_id: str,
                    settings: PipelineSettings | None = None) -> dict[str, Any]:
    """Forecast ``ticker`` from its last ``forecasting.lookback`` closes, persist by ``run_id``."""
    from foundation.metrics import get_client
    from foundation.pipeline_logger import get_logger
    from portfolio.settings import load_settings

    settings = settings or load_settings()
    cfg = settings.forecasting
    log = get_logger("forecasting")
    conn = db.connect()
    try:
        rows = load_closes(conn, ticker, cfg.lookback)
    finally:
        conn.close()
    if len(rows) < cfg.min_history:
        exc = ForecastError(f"{ticker}: {len(rows)} rows of history in ohlcv; forecasting.min_history "
                            f"requires {cfg.min_history}")
        log.log_event("forecast_failed", level="warning", ticker=ticker, run_id=run_id, error=str(exc))
        raise exc
    as_of = rows[-1][0]
    try:
        result = forecast_series([c for _, c in rows], as_of, cfg,
                                 parallel=parallel_enabled(settings.runtime.enable_parallel_forecasts),
                                 label=ticker)
    except ForecastError as exc:
        log.log_event("forecast_failed", level="warning", ticker=ticker, run_id=run_id, error=str(exc))
        raise
    save_forecast(db, ticker, run_id, result, next_sessions(as_of, cfg.horizon, settings.quality.calendar))
    out = summary(ticker, run_id, result)
    statsd = get_client()
    for model, score in result.scores.items():
        statsd.gauge("forecast.error", score.mape, tags={"ticker": ticker, "model": model})
        statsd.incr("forecast.count", tags={"model": model})
    for model, ok in result.converged.items():
        if not ok:
            log.log_event("forecast_nonconvergence", level="warning", ticker=ticker, run_id=run_id,
                          model=model, note=result.notes.get(model))
    for model, reason in result.failed.items():
        log.log_event("forecast_model_failed", level="warning", ticker=ticker, run_id=run_id, model=model,
                      error=reason)
    log.log_event("forecast_complete", ticker=ticker, run_id=run_id, as_of=as_of,
                  expected_return=out["expected_return"], confidence=out["confidence"], mape=out["mape"],
                  fit_seconds=out["fit_seconds"])
    return out
