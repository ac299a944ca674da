"""The single offline HTML page of the performance report (plotly.js inlined once; no network references)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from monitoring.report_html_dags import dags_section, slas_section
from monitoring.report_html_parts import NO_DATA, Plots, fmt, table

if TYPE_CHECKING:
    import plotly.graph_objects as go

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


def _backtest(b: dict[str, Any], eq: dict[str, Any], tr: dict[str, Any]) -> str:
    """The signal rule's backtest on the history beside the live paper results (its figure follows)."""
    parts = ['<h3 id="backtest">Backtest of the signal rule beside the live paper trades</h3>']
    summary = b.get("summary")
    if not summary:
        return "".join(parts) + f'<p class="empty">{escape(str(b.get("note", "no backtest")))}</p>'
    origin = ", ".join(f"{n} {k}" for k, n in (b.get("origins") or {}).items())
    how = "cached" if b.get("cached") else f"computed in {b.get('seconds')}s"
    parts.append(f'<p class="meta">{b["rows"]} forecast rows ({escape(origin)}) of {escape(", ".join(b["tickers"]))}'
                 f' from {escape(b["curve"][0]["as_of"])} to {escape(b["curve"][-1]["as_of"])}, configured '
                 f"thresholds and position size; {escape(how)}</p>")
    parts.append(table(["", "backtest (history)", "live (period)"], [
        ["return", fmt(summary["total_return"], "pct"), fmt(eq.get("period_return"), "pct")],
        ["max drawdown", fmt(summary["max_drawdown"], "pct"), fmt(eq.get("max_drawdown"), "pct")],
        ["trades", summary["trades"], tr["trades"]],
        ["hit rate / win rate", fmt(summary["hit_rate"], "pct"), fmt(tr["win_rate"], "pct")],
        ["Sharpe (annualised)", fmt(summary["sharpe"]), "-"]]))
    return "".join(parts)


def _trading(t: dict[str, Any], plot: Plots, trade_rows: list[dict[str, Any]], max_rows: int,
             backtest: dict[str, Any]) -> str:
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
    parts.append(_backtest(backtest, eq, tr) + plot("backtest"))
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


def _pipeline(p: dict[str, Any], plot: Plots) -> str:
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
    plot = Plots(figures)
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
            + _trading(report["trading"], plot, trade_rows, max_trade_rows, report.get("backtest") or {})
            + _pipeline(report["pipeline"], plot) + dags_section(report["dags"], report["sources"]["dags"], plot)
            + slas_section(report.get("slas"), plot)
            + _lineage(report.get("lineage")))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Performance report</title>'
            f"<style>{CSS}</style></head><body>{body}</body></html>")
