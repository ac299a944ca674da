"""Threshold findings of the performance report: drawdown, quant health, DAG success rate, stale data, SLO budget."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portfolio.readout import PipelineSettings


def _alert(name: str, severity: str, subject: str, value: Any, threshold: Any,
           message: str) -> dict[str, Any]:
    return {"alert": name, "severity": severity, "subject": subject, "value": value, "threshold": threshold,
            "message": message}


def find_alerts(report: dict[str, Any], settings: PipelineSettings) -> list[dict[str, Any]]:
    """Threshold findings of a built report (severity ``warning`` or ``critical``)."""
    out: list[dict[str, Any]] = []
    qh_cfg, cfg = settings.quant_health, settings.performance_report
    trading = report["trading"]
    drawdown = trading["equity"].get("max_drawdown")
    if drawdown is not None:
        for tier, severity in ((qh_cfg.yellow, "critical"), (qh_cfg.green, "warning")):
            if drawdown > tier.max_drawdown:
                name = "yellow" if severity == "critical" else "green"
                out.append(_alert("drawdown", severity, "portfolio", drawdown, tier.max_drawdown,
                                  f"max drawdown {drawdown:.2%} in the last {report['period']['days']} days "
                                  f"exceeds "
                                  f"quant_health.{name}.max_drawdown {tier.max_drawdown:.2%}"))
                break
    qh = trading["quant_health"]
    if qh.get("colour") == "RED":
        out.append(_alert("quant_health", "critical", "portfolio", "RED", "GREEN/YELLOW",
                          "quant health RED: " + "; ".join(qh.get("reasons", []))))
    for dag_id, stats in report["dags"]["dags"].items():
        rate = stats["success_rate"]
        if rate is not None and rate < cfg.min_dag_success_rate:
            out.append(_alert("dag_success_rate", "warning", dag_id, rate, cfg.min_dag_success_rate,
                              f"{dag_id}: success rate {rate:.1%} over {stats['finished']} finished runs is "
                              f"below "
                              f"performance_report.min_dag_success_rate {cfg.min_dag_success_rate:.0%}"))
    for ticker, md in trading["market_data"].items():
        behind = md.get("sessions_behind")
        if behind is not None and behind > cfg.stale_after_sessions:
            out.append(_alert("stale_market_data", "warning", ticker, behind, cfg.stale_after_sessions,
                              f"{ticker}: last bar {md['last_bar']} is {behind} sessions behind (more than "
                              f"performance_report.stale_after_sessions {cfg.stale_after_sessions})"))
    for budget in report.get("slas", {}).get("budgets", []):
        remaining = budget["budget_remaining"]
        if remaining is not None and remaining < 0:
            out.append(_alert("error_budget", "warning", budget["sla"], remaining, 0.0,
                              f"{budget['sla']}: error budget overspent ({budget['misses']} misses in "
                              f"{budget['finished_runs']} finished {budget['dag_id']} runs over "
                              f"{budget['window_days']:g} days; objective {budget['objective']:.2%})"))
    return out
