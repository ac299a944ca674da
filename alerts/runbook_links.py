"""Absolute runbook links for every Prometheus alert, from the one runbook base of ``config/slas.yml``.

``runbook_base_url`` (``{ui_base_url}/pmx-sla/runbook``) is where the SLA view serves the runbooks: ``docs/slas.md``
at the base itself (the per-SLA alerts and the outbox's Slack/PagerDuty messages link ``<base>#<sla anchor>``) and
``docs/runbook.md`` at ``<base>/alerts`` (the hand-written Airflow and pipeline alerts link
``<base>/alerts#<alert name in lower case>``). So a link works the same from Slack, PagerDuty, Alertmanager and
Grafana, without a repository checkout.

The committed rule files carry the base of the local stack (``http://127.0.0.1:8080/pmx-sla/runbook``, as
``sla_rules.yml`` does). ``python -m alerts.runbook_links`` rewrites the hand-written files' links in place;
``--check`` fails when one is not what this module makes; ``--out DIR`` writes every rule file into ``DIR`` with
the deployment's base (``config/alerting.yml`` ``ui_base_url``, ``AIRFLOW__API__BASE_URL`` when ``auto``, or
``--base-url``) for Prometheus to load instead.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from foundation.paths import REPO_ROOT

RULES_DIR = REPO_ROOT / "alerts" / "prometheus"
HAND_WRITTEN = ("airflow.alerts.yml", "pmx.alerts.yml")
ALERTS_PAGE = "alerts"  # <base>/alerts serves docs/runbook.md
ALERTS_RUNBOOK = REPO_ROOT / "docs" / "runbook.md"
SLA_RUNBOOK = REPO_ROOT / "docs" / "slas.md"
_ALERT = re.compile(r"^\s*-\s*alert:\s*(\S+)\s*$")
_RUNBOOK = re.compile(r"^(\s*runbook_url:\s*)(\S+)\s*$")


def github_anchor(title: str) -> str:
    """The anchor GitHub gives a heading (lower case, punctuation dropped, spaces as ``-``)."""
    return re.sub(r"[^a-z0-9 _-]", "", title.strip().lower()).replace(" ", "-")


def alert_runbook_url(base: str, alert: str) -> str:
    """The runbook link of a hand-written alert: its section of ``docs/runbook.md`` under ``base``."""
    return f"{base.rstrip('/')}/{ALERTS_PAGE}#{github_anchor(alert)}"


def link_hand_written(text: str, base: str) -> str:
    """``text`` (a rules file) with each alert's ``runbook_url`` set to :func:`alert_runbook_url`."""
    out, alert = [], None
    for line in text.splitlines(keepends=True):
        if found := _ALERT.match(line):
            alert = found.group(1)
        elif (found := _RUNBOOK.match(line)) and alert is not None:
            line = f"{found.group(1)}{alert_runbook_url(base, alert)}\n"
        out.append(line)
    return "".join(out)


def rebase(text: str, old_base: str, new_base: str) -> str:
    """``text`` with every ``runbook_url`` under ``old_base`` moved under ``new_base``."""
    old, new = old_base.rstrip("/"), new_base.rstrip("/")

    def move(line: str) -> str:
        found = _RUNBOOK.match(line)
        if not found or not found.group(2).startswith(old):
            return line
        return f"{found.group(1)}{new}{found.group(2)[len(old):]}\n"

    return "".join(move(line) for line in text.splitlines(keepends=True))


def stable_base() -> str:
    """The base the committed rule files carry (the local stack's UI, whatever the shell's environment)."""
    from alerts.sla_rules import _stable_runbook_base

    return _stable_runbook_base(None)


def deployment_base() -> str:
    """The base of this environment: ``config/slas.yml`` with ``config/alerting.yml``'s UI address."""
    from alerts.sla_config import runbook_base

    return runbook_base()


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or ``--check``) the hand-written files' links, or render every rule file with ``--out``."""
    parser = argparse.ArgumentParser(prog="alerts.runbook_links", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed link is out of date")
    parser.add_argument("--out", type=Path, help="write every rule file here with the deployment's base")
    parser.add_argument("--base-url", help="with --out: this runbook base instead of the configured one")
    args = parser.parse_args(argv)
    base = stable_base()
    if args.out:
        target = (args.base_url or deployment_base()).rstrip("/")
        if "://" not in target:
            print(f"alerts.runbook_links: error: runbook base {target!r} is not an absolute URL", file=sys.stderr)
            return 2
        args.out.mkdir(parents=True, exist_ok=True)
        for file in sorted(RULES_DIR.glob("*.yml")):
            (args.out / file.name).write_text(rebase(file.read_text(), base, target))
        print(f"wrote the rule files of {RULES_DIR} to {args.out} with runbook base {target}")
        return 0
    stale = []
    for name in HAND_WRITTEN:
        file = RULES_DIR / name
        text = file.read_text()
        wanted = link_hand_written(text, base)
        if wanted != text:
            stale.append(name)
            if not args.check:
                file.write_text(wanted)
    if args.check:
        print(f"out of date: {', '.join(stale)} (run python -m alerts.runbook_links)" if stale else "up to date")
        return 1 if stale else 0
    print(f"rewrote {', '.join(stale)}" if stale else "up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
