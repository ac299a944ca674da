"""Generate ``alerts/prometheus/sla_rules.yml`` (and its promtool unit tests) from ``config/slas.yml``.

Per SLA: ``PmxSlaMissed_<sla>`` fires on any miss in the last hour with the SLA's own severity, DAG, rule text
and runbook. SLAs of DAGs that run at least three times a day also get ``PmxSlaMissedRepeatedly_<sla>``
(three misses in 24 h: the budget or the DAG needs attention). Every rule carries ``routed_by="pmx-outbox"``:
the project's own router already delivers each miss, so Alertmanager should not page for these again.
SLAs with an ``objective`` add the SLO group of :mod:`alerts.slo_rules` (SLI, error budget, burn-rate alerts).
``python -m alerts.sla_rules`` rewrites the file; a unit test fails when the committed file differs from what
the config produces.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from alerts.promql import counter_increase
from alerts.sla_config import ConfigError, SlaSpec, load_sla_config, runbook_base
from alerts.slo_rules import slo_group
from alerts.times import format_duration
from foundation.paths import REPO_ROOT

RULES_FILE = REPO_ROOT / "alerts" / "prometheus" / "sla_rules.yml"
HEADER = (
    "# GENERATED from config/slas.yml by `python -m alerts.sla_rules`; do not edit by hand.\n"
    "# One alert per SLA with its own severity and runbook (generic SLA rules live in pmx.alerts.yml);\n"
    "# SLAs with an objective add SLI, error-budget and burn-rate rules (group pmx-slo-generated).\n"
)
REPEAT_MISSES, MIN_RUNS_PER_DAY = 3, 3
# The outbox router already pages for every miss: Alertmanager can match this label to avoid a second page.
ROUTED_BY = "pmx-outbox"


def _misses(sla: str, window: str) -> str:
    return counter_increase(f'pmx_sla_misses_total{{sla="{sla}"}}', window, "dag_id, sla")


def rule_text(spec: SlaSpec) -> str:
    """The SLA in words, for alert descriptions."""
    manual = f"manual runs within {format_duration(spec.manual_budget.total_seconds())} of being queued"
    if spec.reference == "time_of_day":
        return f"finished by {spec.at} {spec.timezone}; {manual}"
    budget = format_duration(spec.budget.total_seconds())
    if spec.reference == "scheduled":
        return f"finished within {budget} of the scheduled time; {manual}"
    if spec.reference == "queued":
        return f"finished within {budget} of being queued"
    return f"finished within the mean of the last {spec.max_runs} successful runs + {budget}"


def runs_per_day(schedule: str, timezone: str) -> int:
    """How many times a cron fires on a busy weekday (Wednesday 2026-01-07)."""
    import pendulum

    from alerts.sla_schedules import cron_fires

    start = pendulum.datetime(2026, 1, 7, tz=timezone)
    return len(cron_fires(schedule, timezone, timedelta(days=1), start=start, limit=1441))


def rules(slas: list[SlaSpec], runbook: str, timezone: str) -> dict[str, Any]:
    """The rules document (an SLA whose DAG schedule is unknown gets no repeated-miss rule, and is low-traffic
    for its SLO alerts); SLAs with an ``objective`` add the ``pmx-slo-generated`` group (:mod:`alerts.slo_rules`)."""
    out: list[dict[str, Any]] = []
    busy = {s.name: s.schedule is not None and runs_per_day(s.schedule, timezone) >= MIN_RUNS_PER_DAY for s in slas}
    for spec in slas:
        url = spec.runbook_url(runbook)
        labels = {"severity": spec.severity, "sla": spec.name, "dag_id": spec.dag_id, "routed_by": ROUTED_BY}
        out.append(
            {
                "alert": f"PmxSlaMissed_{spec.name}",
                "expr": f"{_misses(spec.name, '1h')} > 0\n",
                "labels": labels,
                "annotations": {
                    "summary": f"SLA {spec.name} of {spec.dag_id} missed",
                    "description": (
                        f"{spec.description or spec.name}: {rule_text(spec)}. "
                        "{{ $value }} miss(es) in the last hour."
                    ),
                    "runbook_url": url,
                },
            }
        )
        if busy[spec.name]:
            out.append(
                {
                    "alert": f"PmxSlaMissedRepeatedly_{spec.name}",
                    "expr": f"{_misses(spec.name, '24h')} >= {REPEAT_MISSES}\n",
                    "labels": {
                        **labels,
                        "severity": "warning" if spec.severity in ("warning", "info") else "error",
                    },
                    "annotations": {
                        "summary": f"SLA {spec.name} of {spec.dag_id} missed {REPEAT_MISSES}+ times in 24 h",
                        "description": (
                            f"{rule_text(spec)} failed {{{{ $value }}}} times in 24 h: the DAG got slower "
                            "or the budget no longer fits."
                        ),
                        "runbook_url": url,
                    },
                }
            )
    return {"groups": [{"name": "pmx-sla-generated", "rules": out}, *slo_group(slas, busy, runbook)]}


def render(config_dir: Path | None = None) -> str:
    """The text of ``sla_rules.yml`` for the given config directory."""
    from alerts.sla_schedules import DEFAULT_TIMEZONE

    cfg = load_sla_config(config_dir)
    doc = rules(list(cfg.slas), _stable_runbook_base(config_dir), cfg.timezone or DEFAULT_TIMEZONE)
    return HEADER + yaml.dump(doc, Dumper=_BlockDumper, sort_keys=False, width=110, allow_unicode=True)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (PromQL) as ``|`` blocks, like hand-written rule files."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_BlockDumper.add_representer(str, _str)


def _stable_runbook_base(config_dir: Path | None) -> str:
    """Runbook base for committed rules: an ``auto`` UI URL becomes the local default, not the shell's."""
    import os

    saved = os.environ.pop("AIRFLOW__API__BASE_URL", None)
    try:
        return runbook_base(config_dir)
    finally:
        if saved is not None:
            os.environ["AIRFLOW__API__BASE_URL"] = saved


def _firing(rule: dict[str, Any], value: int) -> list[dict[str, Any]]:
    """The alert ``rule`` expected firing with ``value``: its labels, its annotations with ``$value`` filled in."""
    annotations = {k: v.replace("{{ $value }}", str(value)) for k, v in rule["annotations"].items()}
    return [{"exp_labels": rule["labels"], "exp_annotations": annotations}]


def promtool_tests(slas: list[SlaSpec], doc: dict[str, Any], rules_file: str) -> list[dict[str, Any]]:
    """promtool unit test files of the per-SLA alerts of a rules document: every SLA's miss alert fires on a miss
    with its labels and annotations and not before; every repeated-miss alert fires on the third miss in 24 h,
    stays silent on two, and falls silent a day later. Two files: minutes and hours apart (promtool evaluates
    every rule at every ``evaluation_interval``)."""
    rules = {r["alert"]: r for g in doc["groups"] if g["name"] == "pmx-sla-generated" for r in g["rules"]}
    tests, daily = [], []
    for spec in slas:
        series = (
            f'pmx_sla_misses_total{{dag_id="{spec.dag_id}",sla="{spec.name}",severity="{spec.severity}"}}'
        )
        missed = rules[f"PmxSlaMissed_{spec.name}"]
        tests.append(
            {
                "name": f"SLA {spec.name}: one miss",
                "interval": "1m",
                "input_series": [{"series": series, "values": "_x5 1 1 1 1 1"}],
                "alert_rule_test": [
                    {"eval_time": "3m", "alertname": missed["alert"], "exp_alerts": []},
                    {"eval_time": "7m", "alertname": missed["alert"], "exp_alerts": _firing(missed, 1)},
                ],
            }
        )
        repeated = rules.get(f"PmxSlaMissedRepeatedly_{spec.name}")
        if repeated is None:
            continue
        for misses in (REPEAT_MISSES - 1, REPEAT_MISSES):
            expected = _firing(repeated, misses) if misses >= REPEAT_MISSES else []
            daily.append(
                {
                    "name": f"SLA {spec.name}: {misses} misses in 24 h",
                    "interval": "1h",
                    "input_series": [{"series": series, "values": f"_x2 1+1x{misses - 1} {misses}x30"}],
                    "alert_rule_test": [
                        {"eval_time": "1h", "alertname": repeated["alert"], "exp_alerts": []},
                        {"eval_time": f"{1 + misses}h", "alertname": repeated["alert"], "exp_alerts": expected},
                        {"eval_time": f"{2 + misses + 24}h", "alertname": repeated["alert"], "exp_alerts": []},
                    ],
                }
            )
    return [
        {"rule_files": [rules_file], "evaluation_interval": "1m", "tests": tests},
        {"rule_files": [rules_file], "evaluation_interval": "1h", "tests": daily},
    ]


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or ``--check``) the generated rules file."""
    parser = argparse.ArgumentParser(prog="alerts.sla_rules", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed file is out of date")
    args = parser.parse_args(argv)
    try:
        text = render()
    except ConfigError as exc:  # slas.yml, alerting.yml or the schedules file: one line naming file and key
        print(f"alerts.sla_rules: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = RULES_FILE.read_text() if RULES_FILE.exists() else ""
        print(
            "up to date"
            if current == text
            else f"{RULES_FILE} is out of date: run python -m alerts.sla_rules"
        )
        return 0 if current == text else 1
    RULES_FILE.write_text(text)
    print(f"wrote {RULES_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
