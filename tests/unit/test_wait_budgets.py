"""No test of the suite can wait longer than the pytest timeout that applies to it (static bound, see
``tests/wait_budget.py``): a wait past the timeout is killed by pytest-timeout with a stack dump instead of
failing with its own message, and a wait that can never finish is a hidden hang."""

from __future__ import annotations

import textwrap
from pathlib import Path

from foundation.paths import REPO_ROOT
from tests.wait_budget import budget, collect, default_timeout


def test_no_test_waits_longer_than_its_timeout() -> None:
    funcs, tests = collect(REPO_ROOT / "tests")
    default = default_timeout(REPO_ROOT)
    over = []
    for test in tests:
        total, chain = budget(test, funcs, REPO_ROOT / "tests")
        limit = test.timeout or default
        if total > limit:
            over.append(f"{test.file.relative_to(REPO_ROOT)}::{test.name}: waits up to {total:g}s "
                        f"> timeout {limit:g}s ({', '.join(chain)})")
    assert over == []


def test_every_wait_of_the_suite_is_readable() -> None:
    funcs, tests = collect(REPO_ROOT / "tests")
    helpers = [f for by_name in funcs.values() for f in by_name.values()]
    assert [u for f in [*helpers, *tests] for u in f.unresolved] == []


def test_the_scanner_sees_fixture_loop_and_helper_waits(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(textwrap.dedent('''
        import time
        import pytest
        IDS = ("a", "b", "c")
        pytestmark = [pytest.mark.integration, pytest.mark.timeout(100)]

        def helper(timeout=30):
            api.wait_for_run("d", "r", timeout=timeout)

        @pytest.fixture
        def slow():
            for dag_id in IDS:
                wait_for(lambda: True, 20, "x")

        def test_a(slow):
            helper()
            helper(timeout=1)  # counted at the helper's own bound: the scan does not follow arguments
            time.sleep(5)

        @pytest.mark.timeout(10)
        def test_b():
            deadline = time.monotonic() + 11
    '''))
    funcs, tests = collect(tmp_path)
    by_name = {t.name: t for t in tests}
    assert budget(by_name["test_a"], funcs, tmp_path)[0] == 2 * 30 + 3 * 20 + 5
    assert by_name["test_a"].timeout == 100 and by_name["test_b"].timeout == 10
    assert budget(by_name["test_b"], funcs, tmp_path)[0] == 11
