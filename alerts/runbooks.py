"""Where a runbook given in ``config/slas.yml`` lives: one absolute URL for pages, messages and alert rules."""

from __future__ import annotations


def runbook_url(runbook: str, base: str) -> str:
    """A runbook as an absolute URL: absolute ones as given, ``#anchor`` on ``base`` itself, paths under it."""
    if "://" in runbook:
        return runbook
    if runbook.startswith("#"):
        return f"{base.rstrip('/')}{runbook}"
    return f"{base.rstrip('/')}/{runbook.lstrip('/')}"
