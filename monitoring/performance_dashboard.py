"""Performance report: trading results, pipeline events and DAG statistics in one offline HTML page.

Reads the portfolio database, the JSON event log, Airflow (REST API when reachable, else the listener's
``dag_run_*`` / ``task_*`` events) and the stored OpenLineage events (the lineage of the last run), and
writes, atomically, into one directory:

* ``performance_report.html``: plotly figures with plotly.js inlined once (opens with no network),
* ``performance_report.json``: every number of the report, plus the alerts,
* ``trades.csv`` and ``dag_runs.csv``,
* ``performance_report.png``: equity and drawdown through kaleido and the local Chromium (``png=True``).

Threshold findings (drawdown beyond the ``quant_health`` limits, quant health RED, a DAG success rate below
``performance_report.min_dag_success_rate``, market data more than ``performance_report.stale_after_sessions``
sessions behind) are listed in the report, returned and logged as ``performance_alert`` events.
Every section says "no data yet" instead of failing when its source is empty.

The REST client is a parameter (``airflow_api``, or ``api_factory(api_url)``): monitoring knows no stack.
CLI: ``python -m monitoring.performance_dashboard [--output DIR] [--no-airflow] [--png]`` (listener events);
``python -m local_stack.performance_report [...] [--api-url URL]`` queries the local stack's REST API.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation.atomic_io import write_atomic
from foundation.clock import utc_iso
from monitoring import (
    report_alerts,
    report_backtest,
    report_dag_costs,
    report_dags,
    report_lineage,
    report_pipeline,
    report_slas,
    report_trading,
)
from portfolio.readout import json_safe

if TYPE_CHECKING:
    from alerts.outbox import Outbox

HTML_NAME, JSON_NAME = "performance_report.html", "performance_report.json"
PNG_NAME = "performance_report.png"
TRADES_CSV, DAG_RUNS_CSV = "trades.csv", "dag_runs.csv"
API_TIMEOUT_S = 10.0


def csv_bytes(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    """CSV with a header row; missing values are empty cells."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


Records = list[dict[str, Any]]
ApiFactory = Callable[[str | None], Any]  # api-server URL (None: the default one) -> REST client


def _dag_records(events: Records, include_airflow: bool, airflow_api: object | None, api_url: str | None,
                 since: str, api_factory: ApiFactory | None = None) -> tuple[Records, Records, dict[str, Any]]:
    """Runs and tasks from the REST API when asked and reachable, else from the listener's events."""
    note = "Airflow API not queried" if not include_airflow else None
    if include_airflow:
        try:
            api: Any = airflow_api
            if api is None:
                if api_factory is None:
                    raise LookupError("no Airflow REST client given")
                api = api_factory(api_url)
                api.timeout = API_TIMEOUT_S
            runs, tasks = report_dags.from_api(api, since)
            source = {"kind": "api", "note": str(getattr(api, "base_url", "") or "")}
            return runs, report_dag_costs.join_cpu(tasks, events), source
        except Exception as exc:
            note = f"Airflow API unavailable ({type(exc).__name__}: {str(exc)[:200]}); using listener events"
    runs, tasks = report_dags.from_events(events)
    return runs, tasks, {"kind": "events" if runs or tasks else "none", "note": note}


def with_run_state(runs: Records, run: dict[str, Any]) -> Records:
    """``runs`` with the record of ``run`` carrying its given state (added when the sources lack it)."""
    key = (run.get("dag_id"), run.get("run_id"))
    out = [r for r in runs if (r.get("dag_id"), r.get("run_id")) != key]
    before = next((r for r in runs if (r.get("dag_id"), r.get("run_id")) == key), {})
    out.append({**{c: before.get(c) for c in report_dags.RUN_COLUMNS},
                **{c: run[c] for c in report_dags.RUN_COLUMNS if run.get(c) is not None}})
    return out


def _png(points: list[dict[str, Any]], target: Path) -> tuple[str | None, str | None]:
    """Export the equity/drawdown figure; return (path, None) or (None, why not)."""
    if not points:
        return None, "no equity snapshots in the period: nothing to plot"
    try:
        from monitoring.report_figures import equity_figure, png_bytes

        write_atomic(target, png_bytes(equity_figure(points)))
    except Exception as exc:
        return None, f"PNG export failed: {type(exc).__name__}: {str(exc)[:300]}"
    return str(target), None


def _slas(runs: Records, moment: datetime, days: int, outbox: Outbox | None) -> dict[str, Any]:
    """The SLA section; an unreadable outbox is counted and becomes a note, never a failed report."""
    try:
        return report_slas.sla_section(runs, now=moment, since=moment - timedelta(days=days), outbox=outbox)
    except Exception as exc:
        from foundation.failures import report_failure

        report_failure("performance_report", "sla_section", exc)
        return {"misses": [], "warnings": [], "by_dag": {}, "budgets": [],
                "notes": [f"alert outbox unreadable: {type(exc).__name__}: {str(exc)[:200]}"]}


def build_report(output_dir: Path | None = None, *, include_airflow: bool = True,
                 airflow_api: object | None = None, days: int = 30, png: bool = False,
                 api_url: str | None = None, now: datetime | None = None,
                 run: dict[str, Any] | None = None, api_factory: ApiFactory | None = None,
                 lineage_events: Path | None = None, outbox: Outbox | None = None,
                 backtest_origins: int | None = None) -> dict[str, Any]:
    """Write the report of the last ``days`` days to ``output_dir`` (default ``reports/``); summarise it.

    DAG statistics come from ``airflow_api``, else from ``api_factory(api_url)``, else (or when the API is
    unreachable) from the listener's events.

    ``run`` (``dag_id``, ``run_id``, ``state``, ...) is the DAG run the report follows: its state replaces the
    one the sources still show (the run is ``running`` while its report task runs), and the report gets a
    ``run`` section with what that run traded and the equity after it.

    The lineage section shows that run's graph of datasets and jobs (else the last run's) from
    ``lineage_events`` (default: the file the OpenLineage file transport writes).

    SLA misses, early warnings and error budgets come from ``outbox`` (default: the configured alert outbox);
    the backtest replays ``backtest_origins`` past bars per ticker (default:
    ``performance_report.backtest_origins``) and is cached beside the report.
    """
    from foundation import paths
    from foundation.pipeline_logger import get_logger
    from portfolio.readout import DatabaseManager, load_settings

    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days={days!r}: must be a whole number of days >= 1")
    began = time.monotonic()
    settings = load_settings()
    out_dir = Path(output_dir) if output_dir is not None else paths.reports_dir()
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    since, until = utc_iso(moment - timedelta(days=days)), utc_iso(moment)
    db = DatabaseManager()
    conn = db.connect()
    try:
        trades = report_trading.trade_rows(conn, since, until)
        events = report_pipeline.period_events(since, until)
        trading = {"equity": report_trading.equity_curve(conn, since, until),
                   "trades": report_trading.trade_stats(trades),
                   "forecast_errors": report_trading.forecast_errors(conn, since, until),
                   "signals": report_trading.signal_hit_rate(conn, since, until),
                   "market_data": report_trading.market_data(conn, moment.date(), settings.quality.calendar),
                   "quant_health": report_trading.quant_health(db, settings)}
        pipeline = report_pipeline.pipeline_section(events, conn)
        run_section = {**run, **report_trading.run_results(conn, run["run_id"])} if run else None
        backtest = report_backtest.backtest_section(db, conn, settings, out_dir, backtest_origins)
    finally:
        conn.close()
    runs, tasks, dag_source = _dag_records(events, include_airflow, airflow_api, api_url, since, api_factory)
    if run:
        runs = with_run_state(runs, run)
    report: dict[str, Any] = {
        "generated_at": utc_iso(datetime.now(UTC)), "period": {"days": days, "since": since, "until": until},
        "sources": {"db_path": db.location, "dags": dag_source}, "trading": trading, "backtest": backtest,
        "pipeline": pipeline, "dags": {**report_dags.statistics(runs, tasks),
                                       "costs": report_dag_costs.dag_costs(runs, tasks),
                                       "gantt": report_dag_costs.gantt(runs, tasks, now=until)},
        "slas": _slas(runs, moment, days, outbox)}
    if run_section is not None:
        report["run"] = run_section
    report["lineage"] = report_lineage.lineage_section(lineage_events, run)
    report["alerts"] = report_alerts.find_alerts(report, settings)
    report["counts"] = {"equity_points": trading["equity"]["count"], "trades": len(trades),
                        "forecast_models": len(trading["forecast_errors"]),
                        "signals_scored": trading["signals"]["scored"],
                        "events": pipeline["events"], "dag_runs": len(runs), "task_instances": len(tasks),
                        "sla_misses": len(report["slas"]["misses"]), "sla_warnings": len(report["slas"]["warnings"]),
                        "backtest_rows": backtest.get("rows", 0), "alerts": len(report["alerts"])}

    from monitoring.report_html import render

    figures: dict[str, Any] = {}
    if any((trading["equity"]["points"], trading["trades"]["by_ticker"], trading["forecast_errors"],
            report["dags"]["dags"], report["dags"]["costs"], pipeline["by_component"], backtest.get("curve"),
            report["slas"]["misses"], report["slas"]["budgets"])):
        from monitoring.report_figures import report_figures

        figures = report_figures(report)
    html_path, json_path = out_dir / HTML_NAME, out_dir / JSON_NAME
    html = render(report, figures, trades, settings.performance_report.html_trade_rows)
    write_atomic(html_path, html.encode("utf-8"))
    write_atomic(out_dir / TRADES_CSV, csv_bytes(report_trading.TRADE_COLUMNS, trades))
    write_atomic(out_dir / DAG_RUNS_CSV, csv_bytes(report_dags.RUN_COLUMNS, runs))
    png_path, png_error = _png(trading["equity"]["points"], out_dir / PNG_NAME) if png else (None, None)
    report["png"] = {"path": png_path, "error": png_error}
    payload = json.dumps(json_safe(report), indent=1, default=str, allow_nan=False)
    write_atomic(json_path, payload.encode("utf-8"))

    log = get_logger("performance_dashboard")
    for alert in report["alerts"]:
        level = "error" if alert["severity"] == "critical" else "warning"
        log.log_event("performance_alert", level=level, **alert)
    result = {"output_dir": str(out_dir), "html": str(html_path), "json": str(json_path),
              "trades_csv": str(out_dir / TRADES_CSV), "dag_runs_csv": str(out_dir / DAG_RUNS_CSV),
              "png": png_path, "png_error": png_error, "days": days, "dag_source": dag_source["kind"],
              "quant_health": trading["quant_health"].get("colour"), "counts": report["counts"],
              "alerts": report["alerts"], "run": report.get("run"),
              "seconds": round(time.monotonic() - began, 3)}
    log.log_event("performance_report", **{k: v for k, v in result.items() if k != "alerts"})
    return json_safe(result)


def build_parser(prog: str = "python -m monitoring.performance_dashboard") -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog=prog,
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--output", type=Path, help="directory for the report files (default: reports/)")
    parser.add_argument("--no-airflow", action="store_true", help="do not query the Airflow REST API")
    parser.add_argument("--api-url", help="Airflow api-server URL (default: the local stack's; with a client)")
    parser.add_argument("--days", type=int, default=30, help="length of the period in days (default 30)")
    parser.add_argument("--png", action="store_true", help="also export the equity/drawdown figure as PNG")
    return parser


def main(argv: list[str] | None = None, *, api_factory: ApiFactory | None = None,
         prog: str | None = None) -> int:
    """CLI entry: 0 on success, 1 when the report could not be built, 2 on bad arguments or config.

    ``api_factory`` builds the REST client from ``--api-url``; without one the DAG statistics come from the
    listener's events.
    """
    from foundation.config_loader import ConfigError

    parser = build_parser(prog) if prog else build_parser()
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error(f"--days {args.days}: must be at least 1")
    try:
        result = build_report(args.output, include_airflow=not args.no_airflow, days=args.days, png=args.png,
                              api_url=args.api_url, api_factory=api_factory)
    except ConfigError as exc:
        print(f"performance_dashboard: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"performance_dashboard: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"report: {result['html']} ({result['seconds']}s; {len(result['alerts'])} alert(s); "
          f"DAG statistics from {result['dag_source']})")
    for alert in result["alerts"]:
        print(f"  {alert['severity']}: {alert['message']}")
    if args.png:
        print(f"png: {result['png'] or result['png_error']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
