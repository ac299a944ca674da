"""Minimal client for Airflow 3's REST API (``/api/v2``) with a token from the simple auth manager."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

TERMINAL_RUN_STATES = frozenset({"success", "failed"})
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})
TRANSIENT_RETRIES = 4  # 0.5 + 1 + 2 + 4 s of backoff at most


class ApiError(RuntimeError):
    """An API call failed; the message has the method, path, status and body."""


class AirflowApi:
    """Authenticated calls against one api-server."""

    def __init__(self, base_url: str, *, username: str = "admin", password: str | None = None,
                 passwords_file: Path | None = None, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self._passwords_file = passwords_file
        self.timeout = timeout
        self.session = requests.Session()
        self._token: str | None = None

    def _credentials(self) -> str:
        if self._password is None:
            if self._passwords_file is None:
                raise ApiError("no password and no passwords file given")
            self._password = json.loads(self._passwords_file.read_text())[self.username]
        return self._password

    def token(self) -> str:
        """A JWT access token (cached)."""
        if self._token is None:
            resp = self.session.post(f"{self.base_url}/auth/token", timeout=self.timeout,
                                     json={"username": self.username, "password": self._credentials()})
            if resp.status_code >= 300:
                raise ApiError(f"POST /auth/token -> {resp.status_code}")
            self._token = resp.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 204), **kwargs: Any) -> Any:
        """Call ``/api/v2<path>``; return the decoded JSON.

        A 401 is retried once with a fresh token. A 5xx on an idempotent method (the SQLite metadata database
        answers "database is locked" while the scheduler writes) is retried with backoff.
        """
        url = f"{self.base_url}/api/v2{path}"
        retries_5xx = TRANSIENT_RETRIES if method.upper() in IDEMPOTENT_METHODS else 0
        token_refreshed = False
        attempt = 0
        while True:
            headers = {"Authorization": f"Bearer {self.token()}"}
            resp = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
            if resp.status_code == 401 and not token_refreshed:
                self._token = None
                token_refreshed = True
                continue
            if resp.status_code >= 500 and attempt < retries_5xx:
                time.sleep(0.5 * 2 ** attempt)
                attempt += 1
                continue
            if resp.status_code not in ok:
                raise ApiError(f"{method} {path} -> {resp.status_code}: {resp.text[:500]}")
            return resp.json() if resp.content else None

    # -- convenience ---------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """``/api/v2/monitor/health`` (no auth needed)."""
        resp = self.session.get(f"{self.base_url}/api/v2/monitor/health", timeout=self.timeout)
        resp.raise_for_status()
        return resp.json()

    def warm_execution_api(self) -> None:
        """One request to the Execution API (``/execution/health``): its versioned routes are built on the first
        request, about 3 s of the api-server's CPU here, during which the api-server answers nothing. Paid here,
        at start, instead of by the first task instance of the first run."""
        resp = self.session.get(f"{self.base_url}/execution/health", timeout=max(self.timeout, 60))
        resp.raise_for_status()

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG's details, or ``None`` when the dag-processor has not serialized it yet."""
        try:
            return self.request("GET", f"/dags/{dag_id}")
        except ApiError as exc:
            if "-> 404" in str(exc):
                return None
            raise

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180) -> None:
        """Block until every DAG in ``dag_ids`` is known to the api-server."""
        deadline = time.monotonic() + timeout
        missing = list(dag_ids)
        while missing:
            missing = [d for d in missing if self.dag(d) is None]
            if not missing:
                return
            if time.monotonic() > deadline:
                errors = self.request("GET", "/importErrors").get("import_errors", [])
                raise ApiError(f"DAGs not parsed after {timeout:.0f}s: {missing}; import errors: {errors}")
            time.sleep(1)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause a DAG."""
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        """Trigger a manual run; return its run id.

        The run id is chosen here (``manual__<UTC now>`` unless given), which makes the call safe to repeat: a
        5xx (the SQLite metadata database was locked) is retried with backoff, and a 409 on a retry means the
        earlier attempt created the run after all.
        """
        run_id = run_id or f"manual__{datetime.now(UTC).isoformat()}"
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}, "dag_run_id": run_id}
        attempt = 0
        while True:
            ok = (200, 201, 409) if attempt else (200, 201)  # a 409 on a retry: the attempt before created it
            try:
                self.request("POST", f"/dags/{dag_id}/dagRuns", json=body, ok=ok)
                return run_id
            except ApiError as exc:
                if "-> 5" not in str(exc) or attempt >= TRANSIENT_RETRIES:
                    raise
            time.sleep(0.5 * 2 ** attempt)
            attempt += 1

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """One DAG run."""
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def dag_runs(self, dag_id: str = "~", limit: int = 100) -> list[dict[str, Any]]:
        """Recent runs of one DAG (or of all with ``~``)."""
        return self.request("GET", f"/dags/{dag_id}/dagRuns", params={"limit": limit})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance (mapped ones included) of one run."""
        out: list[dict[str, Any]] = []
        while True:
            page = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                                params={"limit": 100, "offset": len(out)})
            out += page["task_instances"]
            if len(out) >= page["total_entries"] or not page["task_instances"]:
                return out

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600, poll: float = 2,
                     progress: Any = None) -> dict[str, Any]:
        """Poll until the run reaches success/failed; ``progress(run, task_instances)`` is called each poll."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if progress is not None:
                progress(run, self.task_instances(dag_id, run_id))
            if run["state"] in TERMINAL_RUN_STATES:
                return run
            if time.monotonic() > deadline:
                raise ApiError(f"{dag_id}/{run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(poll)
