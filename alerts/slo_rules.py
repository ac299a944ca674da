"""SLO rules for SLAs with an ``objective``: the objective as a series, SLI and error-budget recording rules,
burn-rate alerts.

SLI: the share of an SLO's runs that missed it over a window, ``pmx_sla_misses_total{dag_id, sla}`` (the
router's counter, one per miss) over the DAG's finished non-backfill runs
``airflow_dagrun_duration_seconds_count{dag_id, run_type, state}`` (Airflow's timer, every final state). Both
are joined on ``(dag_id, sla)`` through ``pmx:slo_objective:ratio``, one constant series per SLO written from
the config, so an SLO whose DAG ran without a miss has an SLI of 0 (not no data), and misses of SLAs without an
objective stay out. The ratio is capped at 1: a run still going when its deadline passed is a miss that is not
a finished run yet, and a window with misses but no finished run counts as one run.

Alerts follow the multi-window, multi-burn-rate recipe of the Google SRE workbook: the long window proves the
burn is significant, the short one that it is still going on. SLAs of DAGs that run fewer than
``MIN_RUNS_PER_DAY`` times a day get the ticket pairs only: one miss already pages through
``PmxSlaMissed_<sla>``, and the short page windows hold at most one run (docs/slas.md#slos-and-burn-rates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts.promql import counter_increase, duration
from alerts.sla_config import SlaSpec

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
OBJECTIVE = "pmx:slo_objective:ratio"
RUNS_IN = "pmx:slo_runs:increase{window}"
MISSES_IN = "pmx:slo_misses:increase{window}"
ERROR_RATIO = "pmx:sla_error_ratio:rate{window}"
ON_TIME = "pmx:sla_on_time:ratio"
BUDGET_LEFT = "pmx:sla_error_budget_remaining:ratio"
RUNS = 'airflow_dagrun_duration_seconds_count{run_type!="backfill"}'  # backfill runs carry no SLA
MISSES = "pmx_sla_misses_total"
GROUP = "pmx-slo-generated"


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


def budget(spec: SlaSpec) -> float:
    """The error budget: the share of runs allowed to miss (1 - objective)."""
    assert spec.objective is not None
    return round(1 - spec.objective, 10)


def objective(spec: SlaSpec) -> dict[str, Any]:
    """Recording rule: the SLO's objective as a series labelled with its SLA, DAG and window (the join key)."""
    labels = {"sla": spec.name, "dag_id": spec.dag_id, "slo_window": duration(spec.error_window)}
    return {"record": OBJECTIVE, "expr": f"vector({spec.objective:g})", "labels": labels}


def runs(window: str) -> dict[str, Any]:
    """Recording rule: per SLO, the finished non-backfill runs of its DAG over ``window`` (the SLI's denominator)."""
    return {
        "record": RUNS_IN.format(window=window),
        "expr": (
            f"sum by (dag_id, sla) (\n{counter_increase(RUNS, window, 'dag_id')}\n"
            f"* on (dag_id) group_right () ({OBJECTIVE} * 0 + 1)\n)\n"
        ),
    }


def misses(window: str) -> dict[str, Any]:
    """Recording rule: per SLO, its misses over ``window``; 0 for an SLO whose DAG ran without a miss."""
    return {
        "record": MISSES_IN.format(window=window),
        "expr": (
            f"{counter_increase(MISSES, window, 'dag_id, sla')}\nand on (dag_id, sla) {OBJECTIVE}\n"
            f"or on (dag_id, sla) 0 * {RUNS_IN.format(window=window)}\n"
        ),
    }


def error_ratio(window: str) -> dict[str, Any]:
    """Recording rule: per SLO, misses / finished runs over ``window``, capped at 1 (misses without a finished run
    count against one run)."""
    missed, ran = MISSES_IN.format(window=window), RUNS_IN.format(window=window)
    return {
        "record": ERROR_RATIO.format(window=window),
        "expr": (
            f"clamp_max(\n  {missed}\n  / on (dag_id, sla)\n"
            f"  clamp_min({ran} or on (dag_id, sla) 0 * {missed}, 1),\n  1\n)\n"
        ),
    }


def on_time(window: str) -> dict[str, Any]:
    """Recording rule: the SLI over the SLO window, share of runs on time, for the SLOs with this window."""
    return {
        "record": ON_TIME,
        "expr": (
            f"1 - {ERROR_RATIO.format(window=window)}\n"
            f'and on (dag_id, sla) {OBJECTIVE}{{slo_window="{window}"}}\n'
        ),
    }


def budget_left(window: str) -> dict[str, Any]:
    """Recording rule: share of the error budget left over the SLO window (negative: overspent)."""
    return {
        "record": BUDGET_LEFT,
        "expr": (
            f"1 - {ERROR_RATIO.format(window=window)}\n"
            f'/ on (dag_id, sla) group_left () (1 - {OBJECTIVE}{{slo_window="{window}"}})\n'
        ),
    }


def pairs(spec: SlaSpec, alert: BurnAlert) -> tuple[BurnPair, ...]:
    """The window pairs that can fire: a burn factor times the budget above 1 needs an error ratio over 1."""
    return tuple(p for p in alert.pairs if p.factor * budget(spec) < 1)


def burn_alert(spec: SlaSpec, alert: BurnAlert, runbook: str) -> dict[str, Any] | None:
    """The burn-rate alert of one SLO and urgency (None when none of its window pairs can fire)."""
    usable = pairs(spec, alert)
    if not usable:
        return None
    allowed = budget(spec)

    def burn(window: str) -> str:
        return f'{ERROR_RATIO.format(window=window)}{{sla="{spec.name}"}} / {allowed}'

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


def alerts_of(spec: SlaSpec, busy: bool) -> tuple[BurnAlert, ...]:
    """The urgencies an SLO gets: both when its DAG runs often (``busy``), else the ticket only."""
    return tuple(a for a in (PAGE, TICKET) if (busy or a.low_traffic) and pairs(spec, a))


def slo_windows(slos: list[SlaSpec]) -> list[str]:
    """The SLO (error budget) windows in use, e.g. ``["28d"]``."""
    return sorted({duration(s.error_window) for s in slos})


def slo_group(slas: list[SlaSpec], busy: dict[str, bool], runbook: str) -> list[dict[str, Any]]:
    """The ``pmx-slo-generated`` group (empty list without objectives); ``busy``: SLA name -> DAG runs often."""
    slos = [s for s in slas if s.objective is not None]
    if not slos:
        return []
    budgets = slo_windows(slos)
    out: list[dict[str, Any]] = [objective(s) for s in slos]
    for window in [*WINDOWS, *(w for w in budgets if w not in WINDOWS)]:
        out += [runs(window), misses(window), error_ratio(window)]
    out += [on_time(w) for w in budgets] + [budget_left(w) for w in budgets]
    for spec in slos:
        for alert in alerts_of(spec, busy[spec.name]):
            rule = burn_alert(spec, alert, runbook)
            assert rule is not None
            out.append(rule)
    return [{"name": GROUP, "rules": out}]
