"""Plotly figures of the performance report (plotly is imported only when there is something to plot)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

BROWSER_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PNG_TIMEOUT_S = 90
STATE_COLOURS = {"success": "#2ca02c", "failed": "#d62728", "running": "#1f77b4", "queued": "#9467bd"}
LEVEL_COLOURS = {"debug": "#c7c7c7", "info": "#1f77b4", "warning": "#ff7f0e", "error": "#d62728",
                 "critical": "#8c1515"}


def equity_figure(points: list[dict[str, Any]]) -> go.Figure:
    """Equity curve above its drawdown (per cent below the running peak), sharing the time axis."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    x = [p["ts"] for p in points]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06,
                        subplot_titles=("Equity (USD)", "Drawdown (%)"))
    fig.add_trace(go.Scatter(x=x, y=[p["equity"] for p in points], mode="lines", name="equity",
                             line={"color": "#1f77b4"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=[100 * p["drawdown"] for p in points], mode="lines", name="drawdown",
                             fill="tozeroy", line={"color": "#d62728"}), row=2, col=1)
    fig.update_layout(height=520, width=1000, showlegend=False, margin={"l": 60, "r": 20, "t": 40, "b": 40},
                      template="plotly_white")
    return fig


def _bar(x: list[Any], y: list[Any], title: str, ytitle: str,
         colours: list[str] | str = "#1f77b4") -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=x, y=y, marker={"color": colours}))
    fig.update_layout(title=title, yaxis_title=ytitle, height=360, template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 50, "b": 60})
    return fig


def report_figures(report: dict[str, Any]) -> dict[str, go.Figure]:
    """The figures the data supports, by name (empty when there is no data at all)."""
    figs: dict[str, go.Figure] = {}
    trading, dags, pipeline = report["trading"], report["dags"], report["pipeline"]
    if trading["equity"]["points"]:
        figs["equity"] = equity_figure(trading["equity"]["points"])
    by_ticker = trading["trades"]["by_ticker"]
    if by_ticker:
        pnl = [v["realized_pnl"] for v in by_ticker.values()]
        figs["pnl_by_ticker"] = _bar(list(by_ticker), pnl, "Realised PnL by ticker", "USD",
                                     ["#2ca02c" if v >= 0 else "#d62728" for v in pnl])
    models = {m: v for m, v in trading["forecast_errors"].items() if v["mape"] is not None}
    if models:
        figs["forecast_mape"] = _bar(list(models), [v["mape"] for v in models.values()],
                                     "Mean forecast MAPE by model", "MAPE")
    if dags["dags"]:
        import plotly.graph_objects as go

        states = sorted({s for d in dags["dags"].values() for s in d["by_state"]})
        names = list(dags["dags"])
        fig = go.Figure([go.Bar(name=s, x=names, y=[dags["dags"][n]["by_state"].get(s, 0) for n in names],
                                marker={"color": STATE_COLOURS.get(s, "#7f7f7f")}) for s in states])
        fig.update_layout(barmode="stack", title="DAG runs by state", yaxis_title="runs", height=380,
                          template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 100})
        figs["dag_runs"] = fig
        timed = {k: v for k, v in dags["dags"].items() if v["duration_p50_s"] is not None}
        if timed:
            fig = go.Figure([go.Bar(name=q, x=list(timed), y=[v[f"duration_{q}_s"] for v in timed.values()])
                             for q in ("p50", "p95")])
            fig.update_layout(barmode="group", title="DAG run duration", yaxis_title="seconds", height=380,
                              template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 100})
            figs["dag_durations"] = fig
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
