"""The single offline HTML page of the performance report (plotly.js inlined once; no network references)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

NO_DATA = '<p class="empty">no data yet</p>'
COLOURS = {"GREEN": "#2ca02c", "YELLOW": "#e6a700", "RED": "#d62728"}
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{margin-bottom:4px} h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}
table{border-collapse:collapse;margin:8px 0 16px} td,th{border:1px solid #ddd;padding:3px 8px;font-size:13px}
th{background:#f4f4f4;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.empty{color:#888;font-style:italic} .meta{color:#666;font-size:13px}
li.critical{color:#d62728;font-weight:600} li.warning{color:#b36b00}
"""


def fmt(value: Any, kind: str = "") -> str:
    """Human formatting: ``pct`` for fractions, ``usd`` for money, ``s`` for seconds; ``-`` for None."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return escape(str(value))
    if kind == "pct":
        return f"{100 * value:.2f}%"
    if kind == "usd":
        return f"{value:,.2f}"
    if kind == "s":
        return f"{value:.2f}s"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def table(headers: list[str], rows: list[list[Any]], kinds: list[str] | None = None) -> str:
    """An HTML table; cells are escaped and numbers formatted with ``kinds`` (one per column)."""
    if not rows:
        return NO_DATA
    kinds = kinds or [""] * len(headers)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{fmt(v, k)}</td>' if isinstance(v, (int, float)) and not isinstance(v, bool)
        else f"<td>{fmt(v, k)}</td>" for v, k in zip(row, kinds, strict=True)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class _Plots:
    """Turns figures into ``<div>`` fragments; the first one carries the inlined plotly.js bundle."""

    def __init__(self, figures: dict[str, go.Figure]) -> None:
        self.figures = figures
        self.first = True

    def __call__(self, name: str) -> str:
        fig = self.figures.get(name)
        if fig is None:
            return ""
        import plotly.io as pio

        out = pio.to_html(fig, full_html=False, include_plotlyjs=self.first, include_mathjax=False,
                          div_id=f"fig-{name}", config={"displaylogo": False, "responsive": True})
        self.first = False
        return out


def _trading(t: dict[str, Any], plot: _Plots, trade_rows: list[dict[str, Any]], max_rows: int) -> str:
    eq, tr, sig = t["equity"], t["trades"], t["signals"]
    parts = ["<h2>Trading</h2>"]
    if not eq["points"] and not tr["trades"]:
        parts.append(NO_DATA)
    else:
        parts.append(table(["metric", "value"], [
            ["equity (end of period)", fmt(eq.get("end_equity"), "usd")],
            ["return over the period", fmt(eq.get("period_return"), "pct")],
            ["PnL over the period (USD)", fmt(eq.get("period_pnl"), "usd")],
            ["total PnL vs initial cash (USD)", fmt(eq.get("total_pnl"), "usd")],
            ["max drawdown in the period", fmt(eq.get("max_drawdown"), "pct")],
            ["current drawdown", fmt(eq.get("current_drawdown"), "pct")],
            ["trades / closing trades", f"{tr['trades']} / {tr['closed_trades']}"],
            ["realised PnL (USD)", fmt(tr["realized_pnl"], "usd")], ["costs (USD)", fmt(tr["costs"], "usd")],
            ["win rate", fmt(tr["win_rate"], "pct")], ["profit factor", fmt(tr["profit_factor"])],
            ["signal hit rate (scored)", f"{fmt(sig['hit_rate'], 'pct')} ({sig['scored']})"]]))
    parts.append(plot("equity"))
    parts.append("<h3>Per ticker</h3>")
    parts.append(table(["ticker", "trades", "buys", "sells", "closed", "win rate", "profit factor",
                        "realised PnL", "costs"],
                       [[k, v["trades"], v["buys"], v["sells"], v["closed_trades"], v["win_rate"],
                         v["profit_factor"], v["realized_pnl"], v["costs"]]
                        for k, v in tr["by_ticker"].items()],
                       ["", "", "", "", "", "pct", "", "usd", "usd"]))
    parts.append(plot("pnl_by_ticker"))
    shown = trade_rows[-max_rows:][::-1] if max_rows else []
    parts.append(f"<h3>Trades</h3><details><summary>newest {len(shown)} of {len(trade_rows)} "
                 "(all of them are in trades.csv)</summary>")
    parts.append(table(["ts", "ticker", "side", "quantity", "price", "cost", "realised PnL", "mode"],
                       [[r["ts"], r["ticker"], r["side"], r["quantity"], r["price"], r["cost"],
                         r["realized_pnl"], r["mode"]] for r in shown],
                       ["", "", "", "", "usd", "usd", "usd", ""]) + "</details>")
    parts.append("<h3>Forecast error per model</h3>")
    parts.append(table(["model", "fits", "tickers", "MAPE", "RMSE", "directional accuracy", "converged",
                        "fit time"],
                       [[m, v["fits"], v["tickers"], v["mape"], v["rmse"], v["directional_accuracy"],
                         v["converged_rate"], v["fit_seconds"]] for m, v in t["forecast_errors"].items()],
                       ["", "", "", "", "", "pct", "pct", "s"]))
    parts.append(plot("forecast_mape"))
    parts.append("<h3>Signal hit rate by source</h3>")
    parts.append(table(["source", "scored", "hits", "hit rate"],
                       [[k, v["scored"], v["hits"], v["hit_rate"]] for k, v in sig["by_source"].items()],
                       ["", "", "", "pct"]))
    parts.append("<h3>Market data</h3>")
    parts.append(table(["ticker", "last bar", "bars", "sessions behind"],
                       [[k, v["last_bar"], v["bars"], v["sessions_behind"]]
                        for k, v in t["market_data"].items()]))
    return "".join(parts)


def _pipeline(p: dict[str, Any], plot: _Plots) -> str:
    parts = ["<h2>Pipeline</h2>", f'<p class="meta">{p["events"]} events in the period</p>']
    levels = sorted({lv for c in p["by_component"].values() for lv in c})
    parts.append(table(["component", *levels], [[c, *[n.get(lv, 0) for lv in levels]]
                                                for c, n in p["by_component"].items()]))
    parts.append(plot("events"))
    parts.append("<h3>Errors by event type</h3>")
    parts.append(table(["event", "errors"], [[k, v] for k, v in p["errors_by_event"].items()]))
    parts.append("<h3>Last ETL success per ticker</h3>")
    parts.append(table(["ticker", "when (UTC)", "rows", "data source", "from"],
                       [[k, v["ts"], v["rows_loaded"], v["data_source"], v["from"]]
                        for k, v in p["last_etl_success"].items()]))
    return "".join(parts)


def _dags(d: dict[str, Any], source: dict[str, Any], plot: _Plots) -> str:
    note = f' ({escape(source["note"])})' if source.get("note") else ""
    parts = ["<h2>DAG statistics</h2>", f'<p class="meta">source: {escape(source["kind"])}{note}; '
             f'overall success rate {fmt(d["success_rate"], "pct")}</p>']
    parts.append(table(["DAG", "runs", "by state", "success rate", "p50", "p95", "last state", "last run"],
                       [[k, v["runs"], ", ".join(f"{s}={n}" for s, n in v["by_state"].items()),
                         v["success_rate"], v["duration_p50_s"], v["duration_p95_s"], v["last_state"],
                         v["last_run"]]
                        for k, v in d["dags"].items()], ["", "", "", "pct", "s", "s", "", ""]))
    parts.append(plot("dag_runs") + plot("dag_durations"))
    parts.append("<h3>Slowest tasks (by p95)</h3>")
    parts.append(table(["DAG", "task", "instances", "failed", "p50", "p95", "max"],
                       [[t["dag_id"], t["task_id"], t["instances"], t["failed"], t["duration_p50_s"],
                         t["duration_p95_s"], t["duration_max_s"]] for t in d["slowest_tasks"]],
                       ["", "", "", "", "s", "s", "s"]))
    parts.append("<h3>Recent failures</h3>")
    parts.append(table(["kind", "DAG", "task", "run", "when", "error"],
                       [[f["kind"], f["dag_id"], f.get("task_id") or "", f["run_id"],
                         f.get("end_date") or f.get("start_date"), str(f.get("error") or "")[:300]]
                        for f in d["failures"]]))
    return "".join(parts)


def _lineage(section: dict[str, Any] | None) -> str:
    """Lineage of the last run: job -> inputs -> outputs (per-ticker datasets collapsed)."""
    from lineage.summary import collapse

    parts = ['<h2 id="lineage">Lineage of the last run</h2>']
    if not section or "jobs" not in section:
        note = (section or {}).get("note", "no lineage events")
        return "".join(parts) + f'<p class="empty">{escape(str(note))}</p>'
    bad = f", {section['bad_lines']} unreadable line(s) skipped" if section.get("bad_lines") else ""
    breaks = "; ".join(section.get("chain_breaks") or []) or "connected"
    parts.append(f'<p class="meta">{escape(section["dag_id"])} {escape(section["run_id"])}: '
                 f'{section["events"]} events from {escape(str(section.get("path", "")))}{escape(bad)}; '
                 f'market data -> ohlcv -> forecasts -> signals -> trades: {escape(breaks)}</p>')
    parts.append(table(["job", "state", "inputs", "outputs"],
                       [[j["task"], ", ".join(f"{n} {s}" if n > 1 else s for s, n in j["states"].items()) or "running",
                         ", ".join(collapse(j["inputs"])) or "-", ", ".join(collapse(j["outputs"])) or "-"]
                        for j in section["jobs"] if j["inputs"] or j["outputs"]]))
    parts.append(f'<p>sources (no job wrote them): {escape(", ".join(collapse(section["sources"])) or "-")}<br>'
                 f'sinks (no job read them): {escape(", ".join(collapse(section["sinks"])) or "-")}</p>')
    return "".join(parts)


def _run_line(run: dict[str, Any] | None) -> str:
    """One line on the DAG run the report follows (none for a report built outside a run)."""
    if not run:
        return ""
    equity = "no snapshot yet" if run.get("equity") is None else f"${run['equity']:,.2f}"
    return (f'<p id="run">Run {escape(str(run.get("dag_id")))} {escape(str(run.get("run_id")))}: '
            f'state {escape(str(run.get("state")))}, {run.get("trades", 0)} trade(s) '
            f'(costs ${run.get("trade_costs", 0):,.2f}), equity {escape(equity)}</p>')


def render(report: dict[str, Any], figures: dict[str, go.Figure], trade_rows: list[dict[str, Any]],
           max_trade_rows: int) -> str:
    """The complete HTML document."""
    plot = _Plots(figures)
    qh = report["trading"]["quant_health"]
    colour = qh.get("colour")
    background = COLOURS.get(str(colour), "#7f7f7f")
    badge = f'<span class="badge" style="background:{background}">{escape(str(colour or "n/a"))}</span>'
    period = report["period"]
    alerts = "".join(f'<li class="{escape(a["severity"])}">{escape(a["severity"])}: '
                     f'{escape(a["message"])}</li>' for a in report["alerts"]) or "<li>none</li>"
    body = (f"<h1>Portfolio Maximizer: performance report</h1>"
            f'<p class="meta">generated {escape(report["generated_at"])} | '
            f'period: last {period["days"]} days '
            f'({escape(period["since"])} .. {escape(period["until"])})</p>'
            f'<p>Quant health (all history): {badge} {escape("; ".join(qh.get("reasons", [])))}</p>'
            + _run_line(report.get("run"))
            + f'<h2>Alerts</h2><ul id="alerts">{alerts}</ul>'
            + _trading(report["trading"], plot, trade_rows, max_trade_rows)
            + _pipeline(report["pipeline"], plot) + _dags(report["dags"], report["sources"]["dags"], plot)
            + _lineage(report.get("lineage")))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Performance report</title>'
            f"<style>{CSS}</style></head><body>{body}</body></html>")
