"""``cutover parallel-run``: one job run by cron's entrypoint and by its DAG on the same synthetic inputs, compared.

The cron side runs the job's script the way its crontab line does (``deploy/cron/production.crontab``): a
subprocess in the pipeline home with the crontab's environment, the ``CRON_*`` variables carrying the tickers,
dates and ``CRON_EXEC_MODE=synthetic``. The Airflow side runs the DAG with ``DAG.test()`` in a subprocess
(:mod:`local_stack.cutover.dag_test`) with a private ``AIRFLOW_HOME`` (its metadata database migrated first) and
the other pipeline home, the same values as the run's conf (the DAGs read ``conf``, never ``CRON_*``). No
scheduler and no api-server are needed. Then :func:`local_stack.cutover.output_diff.diff_homes` compares them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.paths import REPO_ROOT
from local_stack.airflow_env import BLAS_THREAD_VARIABLES, StackLayout, stack_environment
from local_stack.cutover.output_diff import DATABASE, Difference, diff_homes

# job -> its cron entrypoint (the script production_cron.sh ran); the DAG has the job's name (mapping.py).
# Only jobs whose whole output is a function of the CRON_* inputs: a job that reads the state other jobs left
# (trading, monitoring, maintenance) needs that state seeded identically in both homes first.
ENTRYPOINTS: dict[str, tuple[str, ...]] = {
    "daily_etl": ("scripts/run_etl_pipeline.py",),
}
# the crontab's job environment apart from the inputs (deploy/cron/production.crontab)
CRON_ENVIRONMENT = {
    "PIPELINE_DEVICE": "cpu", "ENABLE_GPU_PARALLEL": "0", "ENABLE_PARALLEL_TICKER_PROCESSING": "0",
    "ENABLE_PARALLEL_FORECASTS": "0", "SYNTHETIC_DATASET_ID": "latest",
    "PORTFOLIO_DB_PATH": str(DATABASE),
}
# variables of the caller's environment that must not leak into either side
CLEARED_PREFIXES = ("AIRFLOW__", "CRON_", "PMX_", "PORTFOLIO_DB_", "SYNTHETIC_DATASET_ID")
KEPT_VARIABLES = ("PMX_CONFIG_DIR",)  # both sides read the same config
MIGRATE_TIMEOUT = 300
RUN_TIMEOUT = 600
Progress = Callable[[str], None]


class ParallelRunError(Exception):
    """Bad input, or a side that did not run to success (the message says which and why)."""


@dataclass(frozen=True)
class Inputs:
    """The synthetic inputs both sides get."""

    tickers: str
    start_date: str
    end_date: str

    def cron_environment(self) -> dict[str, str]:
        """As the crontab's ``CRON_*`` variables."""
        return {"CRON_TICKERS": self.tickers, "CRON_START_DATE": self.start_date, "CRON_END_DATE": self.end_date,
                "CRON_EXEC_MODE": "synthetic"}

    def dag_conf(self) -> dict[str, str]:
        """As the DAG run's conf (``docs/dag_reference.md``)."""
        return {"tickers": self.tickers, "start_date": self.start_date, "end_date": self.end_date,
                "execution_mode": "synthetic"}


@dataclass
class Outcome:
    """Both runs and what differs."""

    job: str
    cron_home: Path
    airflow_home: Path
    cron_run_id: str
    airflow_run_id: str
    differences: list[Difference] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"job": self.job, "cron_home": str(self.cron_home), "airflow_home": str(self.airflow_home),
                "cron_run_id": self.cron_run_id, "airflow_run_id": self.airflow_run_id,
                "equal": not self.differences, "differences": [d.as_dict() for d in self.differences]}


def _clean_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k in KEPT_VARIABLES or not k.startswith(CLEARED_PREFIXES)}
    # Both sides with the BLAS threads of the Airflow components (stack_environment): with threaded BLAS the
    # GARCH fits differ from single-threaded ones in the 7th significant digit, an artefact of the machine, not
    # of the orchestration.
    for name in BLAS_THREAD_VARIABLES:
        env.setdefault(name, "1")
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["PMX_STATSD_ENABLED"] = "false"
    return env


def _home_environment(home: Path) -> dict[str, str]:
    return {"PMX_HOME": str(home), "PMX_LOG_DIR": str(home / "logs"), **CRON_ENVIRONMENT}


def _empty_dir(path: Path, what: str) -> Path:
    path = path.resolve()
    if path.exists() and any(path.iterdir()):
        raise ParallelRunError(f"{what} {path} is not empty: give a new or empty directory, so that only this "
                               "run's outputs are compared")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: int, what: str) -> str:
    try:
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ParallelRunError(f"{what} did not finish within {timeout}s: {' '.join(cmd)}") from None
    if proc.returncode != 0:
        raise ParallelRunError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                               f"{(proc.stderr or proc.stdout)[-3000:]}")
    return proc.stdout


def _last_json(stdout: str, what: str) -> dict[str, Any]:
    """The JSON document a side printed last (the cron script's summary, over several lines)."""
    start = stdout.rfind("\n{")
    text = stdout[start + 1:] if start >= 0 else stdout
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ParallelRunError(f"{what} printed no JSON summary at the end of its output:\n{stdout[-1000:]}") from None
    if not isinstance(value, dict):
        raise ParallelRunError(f"{what} printed {type(value).__name__}, not a JSON object")
    return value


def run_cron_side(job: str, inputs: Inputs, home: Path) -> str:
    """Run ``job``'s entrypoint as its crontab line does, in ``home``; return the run id it used."""
    script, *args = ENTRYPOINTS[job]
    env = {**_clean_environment(), **_home_environment(home), **inputs.cron_environment()}
    stdout = _run([sys.executable, str(REPO_ROOT / script), *args], env, home, RUN_TIMEOUT, f"cron side ({script})")
    return str(_last_json(stdout, f"cron side ({script})").get("run_id") or "")


def airflow_environment(airflow_home: Path, home: Path) -> dict[str, str]:
    """The environment of the DAG side: ``config/airflow.yml`` rendered for a private ``AIRFLOW_HOME``."""
    layout = StackLayout(home=airflow_home, pmx_home=home)
    return {**stack_environment(layout, base=_clean_environment()), **_home_environment(home)}


def run_airflow_side(job: str, inputs: Inputs, home: Path, airflow_home: Path) -> str:
    """Migrate a metadata database in ``airflow_home``, then ``DAG.test()`` the job's DAG; return its run id."""
    env = airflow_environment(airflow_home, home)
    airflow = str(Path(sys.executable).parent / "airflow")
    _run([airflow, "db", "migrate"], env, home, MIGRATE_TIMEOUT, "airflow db migrate")
    result_file = airflow_home / "dag_test_result.json"
    cmd = [sys.executable, "-m", "local_stack.cutover.dag_test", "--dag-id", job, "--conf",
           json.dumps(inputs.dag_conf()), "--result", str(result_file)]
    _run(cmd, env, home, RUN_TIMEOUT, f"Airflow side (DAG {job})")
    result = _last_json(result_file.read_text(), f"DAG {job}")
    return str(result.get("run_id") or "")


def parallel_run(job: str, inputs: Inputs, work_dir: Path, progress: Progress = print) -> Outcome:
    """Run ``job`` under cron and as its DAG in two fresh homes under ``work_dir``; compare their outputs."""
    if job not in ENTRYPOINTS:
        raise ParallelRunError(f"parallel-run knows no entrypoint for {job!r}; known: {', '.join(ENTRYPOINTS)}")
    cron_home = _empty_dir(work_dir / "cron", "the cron home")
    airflow_home = _empty_dir(work_dir / "airflow", "the Airflow pipeline home")
    metadata_home = _empty_dir(work_dir / "airflow-metadata", "the AIRFLOW_HOME")
    progress(f"cron side: {' '.join(ENTRYPOINTS[job])} in {cron_home}")
    cron_run_id = run_cron_side(job, inputs, cron_home)
    progress(f"cron side done (run id {cron_run_id})")
    progress(f"Airflow side: DAG {job} with DAG.test() in {airflow_home} (AIRFLOW_HOME {metadata_home})")
    airflow_run_id = run_airflow_side(job, inputs, airflow_home, metadata_home)
    progress(f"Airflow side done (run id {airflow_run_id})")
    differences = diff_homes(cron_home, airflow_home, cron_run_ids=[cron_run_id],
                             airflow_run_ids=[airflow_run_id])
    return Outcome(job, cron_home, airflow_home, cron_run_id, airflow_run_id, differences)


def report_text(outcome: Outcome) -> str:
    """The human report: the two runs, then one line per difference."""
    lines = [f"job {outcome.job}: cron run {outcome.cron_run_id} in {outcome.cron_home}, "
             f"DAG run {outcome.airflow_run_id} in {outcome.airflow_home}"]
    if not outcome.differences:
        lines.append("outputs equal (database, logs/automation/*.json, checkpoints)")
    else:
        lines += [d.line() for d in outcome.differences]
        lines.append(f"{len(outcome.differences)} difference(s)")
    return "\n".join(lines)
