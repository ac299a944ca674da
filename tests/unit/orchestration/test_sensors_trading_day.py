"""One trading-day clock: no host-local "today" in trading paths; a halt applies to the New York session date."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from foundation.paths import REPO_ROOT

TRADING_PATHS = ("portfolio", "scripts", "orchestration")


def _host_clock_calls(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """``date.today()``, ``datetime.today()``, ``datetime.utcnow()`` and ``datetime.now()`` without a zone."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
        attr = node.func.attr
        naive_now = attr == "now" and not node.args and not node.keywords
        if name in ("date", "datetime") and (attr in ("today", "utcnow") or naive_now):
            found.append(f"{path.relative_to(root)}:{node.lineno}: {name}.{attr}()")
    return found


def test_no_host_local_today_in_trading_paths() -> None:
    hits = [hit for top in TRADING_PATHS for path in sorted((REPO_ROOT / top).rglob("*.py"))
            for hit in _host_clock_calls(path)]
    assert hits == [], "use portfolio.calendar.trading_day() / datetime.now(UTC):\n" + "\n".join(hits)


def test_the_probe_finds_what_it_looks_for(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from datetime import date, datetime, UTC\n"
                     "a = date.today()\nb = datetime.now()\nc = datetime.now(UTC)\nd = datetime.utcnow()\n")
    assert [h.split(": ")[1] for h in _host_clock_calls(probe, tmp_path)] == [
        "date.today()", "datetime.now()", "datetime.utcnow()"]


@pytest.mark.parametrize(
    ("pinned", "day"),
    [
        pytest.param("2026-12-04T00:30:00+00:00", "2026-12-03", id="1930-new-york-is-still-the-3rd"),
        pytest.param("2026-12-03T10:00:00Z", "2026-12-03", id="0500-new-york"),
    ],
)
def test_the_run_trading_day_follows_the_pinned_clock_in_new_york(pmx_home: Path, pinned: str, day: str) -> None:
    from orchestration.tasks import run_trading_day

    assert run_trading_day({"market_clock_at": pinned}).isoformat() == day
