"""Stopping a component leaves nothing of its process group behind, even children that ignore SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from local_stack.airflow_env import StackLayout
from local_stack.stack import AirflowStack

# A component whose child ignores SIGTERM, like a LocalExecutor worker forked from the forkserver.
COMPONENT = """
import os, signal, time
if os.fork() == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(os.getpid(), flush=True)  # only once SIGTERM is ignored
    time.sleep(300)
    os._exit(0)
time.sleep(300)
"""

def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # an orphan nobody reaped yet is dead


def test_stop_component_kills_children_that_ignore_sigterm(tmp_path: Path) -> None:
    stack = AirflowStack(StackLayout(home=tmp_path / "airflow", pmx_home=tmp_path / "pmx"))
    proc = subprocess.Popen([sys.executable, "-c", COMPONENT], stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    stack.procs["component"] = proc
    assert _alive(child)

    stack.stop_component("component", timeout=10)

    assert proc.poll() is not None
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
