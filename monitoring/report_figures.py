"""Plotly figures of the performance report (plotly is imported only when there is something to plot)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitoring.report_plot import date_axis, line_mode, to_datetime, value_axis

if TYPE_CHECKING:
    import plotly.graph_objects as go

BROWSER_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PNG_TIMEOUT_S = 90
LEVEL_COLOURS = {"debug": "#c7c7c7", "info": "#1f77b4", "warning": "#ff7f0e", "error": "#d62728",
                 "critical": "#8c1515"}


def equity_figure(points: list[dict[str, Any]]) -> go.Figure:
    """Equity curve above its drawdown (per cent below the running peak), sharing the time axis."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    x = [to_datetime(p["ts"]) for p in points]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06,
                        subplot_titles=("Equity (USD)", "Drawdown (%)"))
    fig.add_trace(go.Scatter(x=x, y=[p["equity"] for p in points], mode=line_mode(len(x)), name="equity",
                             line={"color": "#1f77b4"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=[100 * p["drawdown"] for p in points], mode=line_mode(len(x)), name="drawdown",
                             fill="tozeroy", line={"color": "#d62728"}), row=2, col=1)
    date_axis(fig, x)
    value_axis(fig, [p["equity"] for p in points], row=1, col=1)
    fig.update_layout(height=520, width=1000, showlegend=False, margin={"l": 60, "r": 20, "t": 40, "b": 40},
                      template="plotly_white")
    return fig


def backtest_figure(curve: list[dict[str, Any]], live: list[dict[str, Any]]) -> go.Figure:
    """The backtest's equity per bar of the history beside the live paper equity, on one date axis."""
    import plotly.graph_objects as go

    bx, lx = [to_datetime(p["as_of"]) for p in curve], [to_datetime(p["ts"]) for p in live]
    fig = go.Figure([go.Scatter(x=bx, y=[p["equity"] for p in curve], mode=line_mode(len(bx)),
                                name="backtest of the signal rule", line={"color": "#7f7f7f"}),
                     go.Scatter(x=lx, y=[p["equity"] for p in live], mode=line_mode(len(lx)), name="live paper equity",
                                line={"color": "#1f77b4"}, marker={"size": 9})])
    date_axis(fig, bx + lx)
    fig.update_layout(title="Backtest on the history and live paper trading", yaxis_title="USD", height=400,
                      template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 40},
                      legend={"orientation": "h", "y": -0.15})
    return fig


def pnl_by_ticker_figure(live: dict[str, dict[str, Any]], backtest: dict[str, dict[str, Any]]) -> go.Figure:
    """Per ticker: live realised PnL, live costs (negative) and the backtest's PnL, grouped."""
    import plotly.graph_objects as go

    tickers = sorted(set(live) | set(backtest))
    series = [("live realised PnL", [live.get(t, {}).get("realized_pnl", 0.0) for t in tickers], "#2ca02c"),
              ("live costs", [-live.get(t, {}).get("costs", 0.0) for t in tickers], "#d62728"),
              ("backtest PnL", [backtest.get(t, {}).get("pnl", 0.0) for t in tickers], "#7f7f7f")]
    fig = go.Figure([go.Bar(name=n, x=tickers, y=y, marker={"color": c}, textposition="outside",
                            text=[f"{v:,.2f}" if v else "" for v in y]) for n, y, c in series])
    fig.update_layout(barmode="group", title="PnL by ticker: live paper trades and the backtest", yaxis_title="USD",
                      height=380, template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 60})
    return fig


def bar(x: list[Any], y: list[Any], title: str, ytitle: str,
        colours: list[str] | str = "#1f77b4") -> go.Figure:
    """One bar chart."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=x, y=y, marker={"color": colours}))
    fig.update_layout(title=title, yaxis_title=ytitle, height=360, template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 50, "b": 60})
    return fig


def report_figures(report: dict[str, Any]) -> dict[str, go.Figure]:
    """The figures the data supports, by name (empty when there is no data at all)."""
    from monitoring.report_figures_dags import dag_figures

    figs: dict[str, go.Figure] = {}
    trading, pipeline = report["trading"], report["pipeline"]
    backtest = report.get("backtest") or {}
    if trading["equity"]["points"]:
        figs["equity"] = equity_figure(trading["equity"]["points"])
    if backtest.get("curve"):
        figs["backtest"] = backtest_figure(backtest["curve"], trading["equity"]["points"])
    if trading["trades"]["by_ticker"] or backtest.get("by_ticker"):
        figs["pnl_by_ticker"] = pnl_by_ticker_figure(trading["trades"]["by_ticker"], backtest.get("by_ticker") or {})
    models = {m: v for m, v in trading["forecast_errors"].items() if v["mape"] is not None}
    if models:
        figs["forecast_mape"] = bar(list(models), [v["mape"] for v in models.values()],
                                    "Mean forecast MAPE by model", "MAPE")
    figs.update(dag_figures(report))
    if pipeline["by_component"]:
        import plotly.graph_objects as go

        comps = list(pipeline["by_component"])
        levels = sorted({lv for c in pipeline["by_component"].values() for lv in c})
        fig = go.Figure([go.Bar(name=lv, x=comps, y=[pipeline["by_component"][c].get(lv, 0) for c in comps],
                                marker={"color": LEVEL_COLOURS.get(lv, "#7f7f7f")}) for lv in levels])
        fig.update_layout(barmode="stack", title="Events by component and level", yaxis_title="events",
                          height=360, template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 100})
        figs["events"] = fig
    return figs


def find_browser() -> str | None:
    """Chromium/Chrome for the PNG export: ``BROWSER_PATH`` if set, else the first one on ``PATH``."""
    configured = os.environ.get("BROWSER_PATH")
    if configured:
        return configured
    for name in BROWSER_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def png_bytes(fig: go.Figure) -> bytes:
    """Render ``fig`` to PNG with kaleido and the local browser, fully offline.

    Kaleido's page loads plotly.js from the installed plotly package; MathJax (a CDN script by default) is
    disabled, so no network is needed.
    """
    import kaleido

    browser = find_browser()
    if browser is None:
        raise RuntimeError("no Chromium/Chrome found for the PNG export "
                           "(install Debian chromium or set BROWSER_PATH)")
    if not Path(browser).is_file():
        raise RuntimeError(f"BROWSER_PATH={browser!r} is not a file")
    layout = fig.layout
    opts = {"format": "png", "width": layout.width or 1000, "height": layout.height or 520, "scale": 1}
    data = kaleido.calc_fig_sync(fig.to_dict(), opts=opts,
                                 kopts={"path": browser, "mathjax": False, "timeout": PNG_TIMEOUT_S})
    if not isinstance(data, bytes) or not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise RuntimeError(f"kaleido returned {type(data).__name__} that is not a PNG")
    return data
