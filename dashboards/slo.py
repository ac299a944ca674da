"""SLOs: per SLO its objective, SLI, error budget left and burn rate per alert window (rules of
:mod:`alerts.slo_rules`, generated from ``config/slas.yml``)."""

from __future__ import annotations

from collections.abc import Sequence

from alerts.slo_rules import PAGE, TICKET
from dashboards.panels import DashboardBuilder, Query, thresholds

SLO = 'sla=~"$sla"'
OBJECTIVE = f"pmx:slo_objective:ratio{{{SLO}}}"


def burn_rate(window: str) -> str:
    """PromQL: per SLO, the error ratio over ``window`` in units of its error budget (1 = spent exactly)."""
    return (
        f"pmx:sla_error_ratio:rate{window}{{{SLO}}}\n"
        f"/ on (dag_id, sla) group_left () (1 - {OBJECTIVE})"
    )


def build(slo_names: Sequence[str] = ()) -> object:
    """The *SLOs and error budgets* dashboard; ``slo_names`` (SLAs with an ``objective`` in
    ``config/slas.yml``) fixes the SLO picker's values, otherwise it lists the SLOs of the rules."""
    board = DashboardBuilder(
        "pmx-slo",
        "SLOs and error budgets",
        "Per SLO: objective, share of runs on time, error budget left and how fast it burns, per alert window.",
        ["sla", "slo"],
    )
    if slo_names:
        board.custom_variable("sla", "SLO", sorted(slo_names))
    else:
        board.variable("sla", "SLO", "label_values(pmx:slo_objective:ratio, sla)")

    board.row("Objectives and error budgets")
    board.bars(
        "Objective",
        Query(OBJECTIVE, "{{sla}} over {{slo_window}}", instant=True),
        unit="percentunit",
        description="Share of runs that must finish on time over the SLO window (config/slas.yml `objective`).",
    )
    board.bars(
        "SLI: runs on time over the SLO window",
        Query(f"pmx:sla_on_time:ratio{{{SLO}}}", "{{sla}}", instant=True),
        unit="percentunit",
        description="1 - SLA misses / finished runs of the DAG over the SLO window (backfills excluded).",
    )
    board.bars(
        "Error budget remaining",
        Query(f"pmx:sla_error_budget_remaining:ratio{{{SLO}}}", "{{sla}}", instant=True),
        unit="percentunit",
        steps=thresholds((None, "red"), (0, "orange"), (0.25, "green")),
        description="1 - error ratio / (1 - objective) over the SLO window: 100 % untouched, 0 spent, below 0 "
        "overspent.",
    )
    board.timeseries(
        "Error budget remaining over time",
        [Query(f"pmx:sla_error_budget_remaining:ratio{{{SLO}}}", "{{sla}}")],
        unit="percentunit",
    )

    board.row("Burn rates (budget spent per window, 1 = exactly on budget)")
    for alert in (PAGE, TICKET):
        for pair in alert.pairs:
            board.timeseries(
                f"{alert.kind}: burn rate over {pair.long} and {pair.short} (fires above {pair.factor:g})",
                [
                    Query(burn_rate(pair.long), f"{{{{sla}}}} {pair.long}"),
                    Query(burn_rate(pair.short), f"{{{{sla}}}} {pair.short}"),
                ],
                description=(
                    f"PmxSloBurn{alert.kind}_<sla> fires when both windows burn faster than {pair.factor:g}x "
                    "(docs/slas.md#slos-and-burn-rates). Low-traffic SLOs have no page alert."
                ),
                width=6,
            )
    board.timeseries(
        "SLI: error ratio per window",
        [Query(f"pmx:sla_error_ratio:rate{w}{{{SLO}}}", f"{{{{sla}}}} {w}") for w in ("1h", "1d", "3d")],
        unit="percentunit",
        description="SLA misses / finished runs of the DAG (capped at 1).",
    )
    board.timeseries(
        "Runs and misses per SLO, last day",
        [
            Query(f"pmx:slo_runs:increase1d{{{SLO}}}", "{{sla}} runs"),
            Query(f"pmx:slo_misses:increase1d{{{SLO}}}", "{{sla}} misses"),
        ],
    )
    return board.build()
