"""Benchmark: deadline-to-delivery latency of SLA misses on a real stack (scheduler, triggerer, worker).

Starts a private stack with one DAG whose runs miss a 2-second budget, Slack and PagerDuty stand-ins on
127.0.0.1 (PagerDuty over HTTPS), triggers ``--misses`` runs and measures, per miss, the time from deadline
to the moment each stand-in processed the alert, split into detection (deadline -> callback recorded it) and
delivery (recorded -> received). Target: p95 <= 1.5 s with the shipped settings.
Run: ``.venv/bin/python bench/sla_latency.py [--misses 24]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from private_stack import airflow_env, free_port, parse_settings

BENCH_DAG = """
from datetime import datetime, timedelta
from airflow.sdk import DAG, task
from alerts.deadlines import deadline_alerts
from alerts.sla_config import SlaSpec

with DAG(dag_id="sla_bench", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=8,
         default_args={"retries": 3, "retry_delay": timedelta(seconds=2)},
         deadline=deadline_alerts(SlaSpec(name="sla_bench_sla", dag_id="sla_bench", reference="queued",
                                          interval="2s", severity="critical", channels=["pagerduty", "slack"],
                                          runbook="#test-scenarios"))):
    @task
    def late() -> None:
        import time
        time.sleep(4)

    late()
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _summary(values: list[float]) -> str:
    return (
        f"n={len(values):<3} median {statistics.median(values):6.2f} s   "
        f"p95 {_percentile(values, 0.95):6.2f} s   "
        f"max {max(values):6.2f} s"
    )


def _when(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run(misses: int, keep: bool, overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """Start the stack, produce the misses, collect the latencies."""
    from alerts.outbox import Outbox
    from foundation.paths import REPO_ROOT
    from local_stack.airflow_env import StackLayout
    from local_stack.run import bootstrap
    from local_stack.stack import AirflowStack
    from tests.harness.receivers import PagerDutyStandIn, SlackStandIn, make_tls

    root = Path(tempfile.mkdtemp(prefix="pmx-sla-bench-"))
    (root / "dags").mkdir()
    (root / "dags" / "sla_bench.py").write_text(BENCH_DAG)
    shutil.copytree(REPO_ROOT / "config", root / "config")
    tls, ca = make_tls(root / "tls")
    slack, pd = SlackStandIn().start(), PagerDutyStandIn(tls=tls).start()
    bundles = [
        {
            "name": "bench",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(root / "dags")},
        }
    ]
    layout = StackLayout(
        home=root / "airflow",
        api_port=free_port(),
        statsd_port=free_port(),
        log_port=free_port(),
        trigger_log_port=free_port(),
        scheduler_health_port=free_port(),
        pmx_home=root / "pmx",
        extra={
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            **(overrides or {}),  # --set: on top of the shipped config/airflow.yml
        },
    )
    stack = AirflowStack(
        layout,
        extra_env={"PMX_CONFIG_DIR": str(root / "config"), "PMX_LOG_DIR": str(root / "pmx" / "logs")},
        say=lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True),
    )
    try:
        bootstrap(stack)
        stack.start()
        api = stack.api
        for conn_id, conn_type, password, extra in (
            ("slack_alerts", "slack", slack.token, {"base_url": slack.api_url}),
            (
                "pagerduty_events",
                "pagerduty_events",
                pd.routing_key,
                {"base_url": pd.url, "ca_bundle": str(ca)},
            ),
        ):
            api.request(
                "POST",
                "/connections",
                json={
                    "connection_id": conn_id,
                    "conn_type": conn_type,
                    "password": password,
                    "extra": json.dumps(extra),
                },
            )
        api.wait_for_dags(["sla_bench"])
        api.set_paused("sla_bench", False)
        keys = []
        for _ in range(misses):
            keys.append(f"pmx-sla/sla_bench/sla_bench_sla/{api.trigger('sla_bench')}")
            time.sleep(1.5)  # spread the deadlines like independent DAGs would
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            got_pd = {e["dedup_key"] for e in pd.events("trigger")}
            got_slack = {
                (m["metadata"] or {}).get("event_payload", {}).get("dedup_key") for m in slack.messages()
            }
            if set(keys) <= got_pd and set(keys) <= got_slack:
                break
            time.sleep(1)
        outbox = Outbox(layout.pmx_home / "data" / "alerts" / "outbox.sqlite")
        result: dict[str, list[float]] = {
            "detect": [],
            "deliver_pagerduty": [],
            "deliver_slack": [],
            "pagerduty": [],
            "slack": [],
        }
        pd_at = {e["dedup_key"]: e["received_at"] for e in pd.events("trigger")}
        slack_at: dict[str, float] = {}
        for m in slack.messages():
            payload = (m["metadata"] or {}).get("event_payload", {})
            if payload.get("kind") == "sla_miss":  # not the "recovered" message of the same key
                slack_at[payload.get("dedup_key")] = m["received_at"]
        for key in keys:
            row = outbox.find("sla_miss", key)
            if row is None or key not in pd_at or key not in slack_at:
                continue
            due = _when(row["deadline_at"])
            recorded = row["submitted_at"]
            result["detect"].append(recorded - due)
            result["deliver_pagerduty"].append(pd_at[key] - recorded)
            result["deliver_slack"].append(slack_at[key] - recorded)
            result["pagerduty"].append(pd_at[key] - due)
            result["slack"].append(slack_at[key] - due)
        return {"root": str(root), "misses": misses, **result}
    finally:
        stack.stop()
        slack.stop()
        pd.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Command line entrypoint."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--misses", type=int, default=24, help="how many runs miss their deadline (>= 20)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory for inspection")
    parser.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                        help="an Airflow setting on top of config/airflow.yml (repeat)")
    args = parser.parse_args(argv)
    result = run(args.misses, args.keep, airflow_env(parse_settings(args.set)))
    print(f"\nSLA miss -> alert latency over {len(result['pagerduty'])} of {args.misses} misses")
    for label, key in (
        ("deadline -> recorded (scheduler + triggerer)", "detect"),
        ("recorded -> PagerDuty received", "deliver_pagerduty"),
        ("recorded -> Slack received", "deliver_slack"),
        ("deadline -> PagerDuty received", "pagerduty"),
        ("deadline -> Slack received", "slack"),
    ):
        if result[key]:
            print(f"  {label:<46} {_summary(result[key])}")
    both = result["pagerduty"] + result["slack"]
    if both:
        p95 = _percentile(both, 0.95)
        print(
            f"  {'deadline -> delivered (both channels)':<46} {_summary(both)}   target p95 <= 5 s: "
            f"{'met' if p95 <= 5 else 'NOT met'}"
        )
    return 0 if len(result["pagerduty"]) == args.misses else 1


if __name__ == "__main__":
    raise SystemExit(main())
