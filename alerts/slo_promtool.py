"""promtool unit tests of the SLO rules, generated from the config and the rules document (a new SLO gets its
tests without anyone writing them): every burn-rate alert fires and stays silent, a burst of misses pages, a
slow burn opens a ticket without paging, and a healthy week of runs on the DAG's real schedule raises nothing."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from alerts.promql import duration
from alerts.sla_config import SlaSpec, parse_duration
from alerts.slo_rules import BUDGET_LEFT, ERROR_RATIO, GROUP, MISSES, ON_TIME, PAGE, TICKET, BurnAlert, budget, pairs

RUNS_SERIES = "airflow_dagrun_duration_seconds_count"
SLOW_BURN = 4.5  # over the 3x ticket, under the 6x page
WEEK_STEP = timedelta(minutes=5)  # sample interval of the healthy week
WEEK_EVALUATION = "1h"  # the healthy week's rule evaluation step (its checks fall on multiples of it)
RUN_TIME = timedelta(minutes=5)  # a healthy run finishes this long after its schedule fires
HOURLY = "0 * * * *"  # cadence assumed for an SLO whose DAG schedule is unknown


def _minutes(window: str) -> int:
    return int(parse_duration(window).total_seconds() // 60)


def _labels(spec: SlaSpec) -> str:
    return f'dag_id="{spec.dag_id}",sla="{spec.name}"'


def _series(spec: SlaSpec, runs: str, misses: str | None) -> list[dict[str, str]]:
    """Finished scheduled runs of the SLO's DAG and (unless ``None``: never missed) its miss counter."""
    out = [{"series": f'{RUNS_SERIES}{{dag_id="{spec.dag_id}",run_type="scheduled",state="success"}}',
            "values": runs}]
    if misses is not None:
        out.append({"series": f'{MISSES}{{{_labels(spec)},severity="{spec.severity}"}}', "values": misses})
    return out


def _checks(rules: list[dict[str, Any]], at: str, firing: set[str]) -> list[dict[str, Any]]:
    """One ``alert_rule_test`` per rule at ``at``: with its labels and annotations if in ``firing``, else none."""
    return [
        {
            "eval_time": at,
            "alertname": rule["alert"],
            "exp_alerts": (
                [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}]
                if rule["alert"] in firing
                else []
            ),
        }
        for rule in rules
    ]


def _expect(record: str, spec: SlaSpec, at: str, value: float) -> dict[str, Any]:
    return {
        "expr": f'{record}{{sla="{spec.name}"}}',
        "eval_time": at,
        "exp_samples": [{"labels": f"{record}{{{_labels(spec)}}}", "value": value}],
    }


def _steady(spec: SlaSpec, case: str, runs: int, misses: int, own: list[dict[str, Any]]) -> dict[str, Any]:
    """``runs`` finished runs and ``misses`` misses a minute for 30 minutes (``misses`` 0: no miss series at all),
    so every window has the error ratio misses / runs: the alerts whose pairs burn slower fire."""
    ratio = misses / runs
    burn = ratio / budget(spec)
    fires = {
        f"PmxSloBurn{a.kind}_{spec.name}" for a in (PAGE, TICKET) if any(burn > p.factor for p in pairs(spec, a))
    }
    assert spec.objective is not None
    window = duration(spec.error_window)
    return {
        "name": f"SLO {spec.name}: {case}",
        "interval": "1m",
        "input_series": _series(spec, f"0+{runs}x30", f"0+{misses}x30" if misses else None),
        "alert_rule_test": _checks(own, "20m", fires),
        "promql_expr_test": [
            _expect(ERROR_RATIO.format(window="5m"), spec, "20m", ratio),
            _expect(ERROR_RATIO.format(window=window), spec, "20m", ratio),
            _expect(BUDGET_LEFT, spec, "20m", 1 - ratio / (1 - spec.objective)),
        ],
    }


def _burst(spec: SlaSpec, own: list[dict[str, Any]], page: BurnAlert) -> dict[str, Any]:
    """A run a minute, on time for the page's long window, then every run misses until the long window's error
    ratio crosses the page factor: silent before the burst, paging at its end."""
    pair = pairs(spec, page)[0]
    long, short = _minutes(pair.long), _minutes(pair.short)
    burst = min(long, max(short + 1, math.floor(pair.factor * budget(spec) * long) + 2))
    alert = next(r for r in own if r["alert"] == f"PmxSloBurn{page.kind}_{spec.name}")
    return {
        "name": f"SLO {spec.name}: a burst of {burst} missed runs after {pair.long} on time pages",
        "interval": "1m",
        "input_series": _series(spec, f"0+1x{long + burst}", f"_x{long} 1+1x{burst - 1}"),
        "alert_rule_test": [
            *_checks(own, f"{long - 1}m", set()),
            *_checks([alert], f"{long + burst - 1}m", {alert["alert"]}),
        ],
    }


def _cumulative(spec: SlaSpec, timezone: str, span: timedelta) -> str:
    """Finished runs of the DAG at every ``WEEK_STEP`` over ``span``, on its schedule, run-length encoded."""
    import pendulum

    from alerts.sla_schedules import REFERENCE_WEEK, cron_fires

    fires = cron_fires(spec.schedule or HOURLY, spec.timezone or timezone, span)
    origin = pendulum.datetime(*REFERENCE_WEEK, tz=spec.timezone or timezone)
    offsets = sorted(f - origin + RUN_TIME for f in fires)
    steps = int(span / WEEK_STEP)
    values = [sum(1 for o in offsets if o <= WEEK_STEP * i) for i in range(steps + 1)]
    out: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        out.append(f"{values[i]}x{j - i}" if j > i else str(values[i]))
        i = j + 1
    return " ".join(out)


def _healthy_week(slos: list[SlaSpec], alerts: list[dict[str, Any]], timezone: str) -> dict[str, Any]:
    """Seven days of runs on each DAG's schedule (Monday to Sunday), no miss: no SLO alert at any half day,
    every SLI 0 and every budget whole at the end."""
    week = timedelta(days=7)
    end = f"{int(week.total_seconds() // 60)}m"
    checks = [c for h in range(12, 7 * 24 + 1, 12) for c in _checks(alerts, f"{h * 60}m", set())]
    expected = [
        e
        for s in slos
        for e in (
            _expect(ERROR_RATIO.format(window="1d"), s, end, 0),
            _expect(ON_TIME, s, end, 1),
            _expect(BUDGET_LEFT, s, end, 1),
        )
    ]
    return {
        "name": "SLOs: a healthy week of runs on their schedules raises no alert",
        "interval": f"{int(WEEK_STEP.total_seconds() // 60)}m",
        "input_series": [x for s in slos for x in _series(s, _cumulative(s, timezone, week), None)],
        "alert_rule_test": checks,
        "promql_expr_test": expected,
    }


def promtool_tests(slas: list[SlaSpec], doc: dict[str, Any], rules_file: str, timezone: str) -> list[dict[str, Any]]:
    """promtool test files of a rules document's burn-rate alerts (see the module docstring): the minute-scale
    tests, and the healthy week evaluated every ``WEEK_EVALUATION`` (promtool evaluates every rule at every
    step)."""
    alerts = [r for g in doc["groups"] if g["name"] == GROUP for r in g["rules"] if "alert" in r]
    slos = [s for s in slas if s.objective is not None]
    tests = []
    for spec in slos:
        own = [r for r in alerts if r["labels"]["sla"] == spec.name]
        tests += [_steady(spec, "every run misses", 1, 1, own), _steady(spec, "no run misses", 1, 0, own)]
        runs = max(1, round(1 / (SLOW_BURN * budget(spec))))
        if TICKET.pairs[0].factor < 1 / (runs * budget(spec)) < PAGE.pairs[-1].factor:
            tests.append(_steady(spec, f"one miss in {runs} runs: ticket, no page", runs, 1, own))
        if any(r["alert"] == f"PmxSloBurn{PAGE.kind}_{spec.name}" for r in own):
            tests.append(_burst(spec, own, PAGE))
    week = [_healthy_week(slos, alerts, timezone)] if slos else []
    return [
        {"rule_files": [rules_file], "evaluation_interval": "1m", "tests": tests},
        {"rule_files": [rules_file], "evaluation_interval": WEEK_EVALUATION, "tests": week},
    ]
