"""``<component>@<instance>``: one more process of a component, with its own log, environment and arguments (the
scale-out test runs two Celery workers and two outbox workers this way, each with a home of its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_stack import stack as stack_module
from local_stack.airflow_env import StackLayout
from local_stack.stack import AirflowStack

PROBE = ["-c", "import os, sys; print(os.environ['PMX_HOME'], os.environ['PMX_SHARED'], sys.argv[1:])"]


def test_an_instance_runs_its_component_with_its_own_env_args_and_log(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(stack_module.PYTHON_COMPONENTS, "probe", PROBE)
    stack = AirflowStack(StackLayout(home=tmp_path / "airflow", pmx_home=tmp_path / "pmx"),
                         extra_env={"PMX_SHARED": "both"},
                         component_env={"probe@b": {"PMX_HOME": str(tmp_path / "b")}},
                         component_args={"probe@b": ["--queues", "default,trading"]})
    for name in ("probe", "probe@b"):
        stack.start_component(name)
        assert stack.procs[name].wait(30) == 0
    logs = {name: (stack.log_dir / f"{name}.log").read_text().split() for name in ("probe", "probe@b")}
    assert logs["probe"] == [str(tmp_path / "pmx"), "both", "[]"]
    assert logs["probe@b"] == [str(tmp_path / "b"), "both", "['--queues',", "'default,trading']"]
    assert stack.env["PMX_HOME"] == str(tmp_path / "pmx")  # the stack's own environment is untouched
