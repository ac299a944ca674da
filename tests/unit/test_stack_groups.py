"""The grouping ``make test`` uses to run the integration tests on two workers with one session stack."""

from __future__ import annotations

from foundation.paths import REPO_ROOT
from tests.stack_groups import OWN_STACK_MODULES, SESSION_STACK, stack_group


def test_the_session_stack_tests_form_one_group_and_own_stack_modules_one_each() -> None:
    assert stack_group("tests/integration/test_dag_set.py::test_a") == SESSION_STACK
    assert stack_group("tests/integration/test_sla_faults.py::test_b[x::y]") == SESSION_STACK
    assert stack_group("tests/integration/test_scale_path.py::test_c") == "tests/integration/test_scale_path.py"
    assert stack_group("tests/unit/test_x.py::T::test_d") == "tests/unit/test_x.py"


def test_every_own_stack_module_exists() -> None:
    assert all((REPO_ROOT / "tests" / "integration" / f"{name}.py").is_file() for name in OWN_STACK_MODULES)
