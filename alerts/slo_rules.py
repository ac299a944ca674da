"""SLO rules for SLAs with an ``objective``: SLI recording rules, error budget left, burn-rate alerts.

SLI: the share of an SLA's runs that missed it, ``pmx_sla_misses_total{sla}`` over the DAG's finished runs
``airflow_dagrun_duration_seconds_count{dag_id}`` (every final state), capped at 1 (a run still going when
its deadline passed is a miss that is not a finished run yet). Alerts follow the multi-window, multi-burn-rate
recipe of the Google SRE workbook: the long window proves the burn is significant, the short one that it is
still going on. SLAs of DAGs that run fewer than ``MIN_RUNS_PER_DAY`` times a day get the ticket pairs only:
one miss already pages through ``PmxSlaMissed_<sla>``, and the short page windows hold at most one run
(docs/slas.md#slos-and-burn-rates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts.promql import counter_increase, duration
from alerts.sla_config import SlaSpec

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
ERROR_RATIO = "pmx:sla_error_ratio:rate{window}"
BUDGET_LEFT = "pmx:sla_error_budget_remaining:ratio"
RUNS = "airflow_dagrun_duration_seconds_count"
SLOW_BURN = 4.5  # promtool tests: over the 3x ticket, under the 6x page


@dataclass(frozen=True)
class BurnPair:
    """Fire when the budget burns faster than ``factor`` over both windows."""

    factor: float
    long: str
    short: str


@dataclass(frozen=True)
class BurnAlert:
    """One alert per SLO and urgency, firing on any of its window pairs."""

    kind: str  # "Page" or "Ticket": part of the alert name
    severity: str
    pairs: tuple[BurnPair, ...]
    low_traffic: bool  # generated for SLAs of DAGs that run rarely too


PAGE = BurnAlert("Page", "critical", (BurnPair(14.4, "1h", "5m"), BurnPair(6, "6h", "30m")), low_traffic=False)
TICKET = BurnAlert("Ticket", "warning", (BurnPair(3, "1d", "2h"), BurnPair(1, "3d", "6h")), low_traffic=True)


def _budget(spec: SlaSpec) -> float:
    assert spec.objective is not None
    return round(1 - spec.objective, 10)


def error_ratio(slos: list[SlaSpec], window: str) -> dict[str, Any]:
    """Recording rule: per SLA, misses / finished runs of its DAG over ``window`` (no runs counts as one)."""
    misses = f'pmx_sla_misses_total{{sla=~"{"|".join(sorted(s.name for s in slos))}"}}'
    runs = f'{RUNS}{{dag_id=~"{"|".join(sorted({s.dag_id for s in slos}))}"}}'
    expr = (
        f"clamp_max(\n{counter_increase(misses, window, 'dag_id, sla')}\n/ on (dag_id) group_left ()\n"
        f"clamp_min(\n{counter_increase(runs, window, 'dag_id')}\nor 0 * sum by (dag_id) ({misses}),\n1),\n1)\n"
    )
    return {"record": ERROR_RATIO.format(window=window), "expr": expr}


def budget_left(spec: SlaSpec) -> dict[str, Any]:
    """Recording rule: share of the error budget left over ``slo_window`` (negative: overspent)."""
    ratio = ERROR_RATIO.format(window=duration(spec.error_window))
    return {
        "record": BUDGET_LEFT,
        "expr": f'1 - ({ratio}{{sla="{spec.name}"}} or on () vector(0)) / {_budget(spec)}\n',
        "labels": {"sla": spec.name, "dag_id": spec.dag_id},
    }


def pairs(spec: SlaSpec, alert: BurnAlert) -> tuple[BurnPair, ...]:
    """The window pairs that can fire: a burn factor times the budget above 1 needs an error ratio over 1."""
    return tuple(p for p in alert.pairs if p.factor * _budget(spec) < 1)


def burn_alert(spec: SlaSpec, alert: BurnAlert, runbook: str) -> dict[str, Any] | None:
    """The burn-rate alert of one SLO and urgency (None when none of its window pairs can fire)."""
    usable = pairs(spec, alert)
    if not usable:
        return None
    budget = _budget(spec)

    def burn(window: str) -> str:
        return f'{ERROR_RATIO.format(window=window)}{{sla="{spec.name}"}} / {budget}'

    expr = "\nor\n".join(
        f"(\n  {burn(p.long)} > {p.factor}\n  and\n  {burn(p.short)} > {p.factor}\n)" for p in usable
    )
    windows = ", ".join(f"{p.factor}x over {p.long} and {p.short}" for p in usable)
    return {
        "alert": f"PmxSloBurn{alert.kind}_{spec.name}",
        "expr": expr + "\n",
        "labels": {"severity": alert.severity, "sla": spec.name, "dag_id": spec.dag_id},
        "annotations": {
            "summary": f"SLO {spec.name} of {spec.dag_id} burns its error budget too fast",
            "description": (
                f"Objective {spec.objective:g} of runs on time over {duration(spec.error_window)}: misses burn the "
                f"error budget faster than {windows}."
            ),
            "runbook_url": spec.runbook_url(runbook),
        },
    }


def slo_group(slas: list[SlaSpec], busy: dict[str, bool], runbook: str) -> list[dict[str, Any]]:
    """The ``pmx-slo-generated`` group (empty list without objectives); ``busy``: SLA name -> DAG runs often."""
    slos = [s for s in slas if s.objective is not None]
    if not slos:
        return []
    windows = list(WINDOWS) + sorted({duration(s.error_window) for s in slos} - set(WINDOWS))
    out: list[dict[str, Any]] = [error_ratio(slos, w) for w in windows]
    out += [budget_left(s) for s in slos]
    for spec in slos:
        for alert in (PAGE, TICKET):
            rule = burn_alert(spec, alert, runbook) if busy[spec.name] or alert.low_traffic else None
            if rule is not None:
                out.append(rule)
    return [{"name": "pmx-slo-generated", "rules": out}]


def _test(spec: SlaSpec, case: str, runs: int, misses: int, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """``runs`` finished runs and ``misses`` misses a minute for 30 minutes, so every window has the error ratio
    misses / runs. Expects the alerts whose pairs burn slower than that to fire, the others to stay silent, and
    the budget left over ``slo_window``."""
    burn = misses / runs / _budget(spec)
    fires = {
        f"PmxSloBurn{a.kind}_{spec.name}" for a in (PAGE, TICKET) if any(burn > p.factor for p in pairs(spec, a))
    }
    labels = f'dag_id="{spec.dag_id}",sla="{spec.name}"'
    return {
        "name": f"SLO {spec.name}: {case}",
        "interval": "1m",
        "input_series": [
            {"series": f'pmx_sla_misses_total{{{labels},severity="{spec.severity}"}}', "values": f"0+{misses}x30"},
            {"series": f'{RUNS}{{dag_id="{spec.dag_id}",state="success"}}', "values": f"0+{runs}x30"},
        ],
        "alert_rule_test": [
            {
                "eval_time": "20m",
                "alertname": rule["alert"],
                "exp_alerts": (
                    [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}]
                    if rule["alert"] in fires
                    else []
                ),
            }
            for rule in alerts
        ],
        "promql_expr_test": [
            {
                "expr": f'{BUDGET_LEFT}{{sla="{spec.name}"}}',
                "eval_time": "20m",
                "exp_samples": [{"labels": f"{BUDGET_LEFT}{{{labels}}}", "value": 1 - burn}],
            }
        ],
    }


def promtool_tests(slas: list[SlaSpec], doc: dict[str, Any], rules_file: str) -> dict[str, Any]:
    """promtool tests of a rules document's burn-rate alerts, per SLO: every alert fires when every run misses
    its deadline, none fires when no run misses, and a slow burn (about 4.5x) opens a ticket but does not page."""
    alerts = [r for g in doc["groups"] if g["name"] == "pmx-slo-generated" for r in g["rules"] if "alert" in r]
    tests = []
    for spec in (s for s in slas if s.objective is not None):
        own = [r for r in alerts if r["labels"]["sla"] == spec.name]
        tests += [_test(spec, "every run misses", 1, 1, own), _test(spec, "no run misses", 1, 0, own)]
        runs = max(1, round(1 / (SLOW_BURN * _budget(spec))))
        if TICKET.pairs[0].factor < 1 / (runs * _budget(spec)) < PAGE.pairs[-1].factor:
            tests.append(_test(spec, f"one miss in {runs} runs: ticket, no page", runs, 1, own))
    return {"rule_files": [rules_file], "evaluation_interval": "1m", "tests": tests}
