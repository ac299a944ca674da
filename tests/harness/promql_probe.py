"""Prove dashboards and rules against a real Prometheus: extract every panel query and recording rule, run a
throwaway ``prometheus`` (Debian package) on 127.0.0.1, and query each expression through the HTTP API.

Used by ``tests/integration/test_prometheus_dashboards.py`` (synthetic traffic) and by the end-to-end test
that runs the DAG set under a real scheduler.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "dashboards" / "json"
RULES_DIR = REPO / "alerts" / "prometheus"
GRAFANA_INTERVALS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__range_s": "3600"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_FALLBACK = re.compile(r"\s*or on\(\) vector\(0\)\s*$")


@dataclass(frozen=True)
class ProbeQuery:
    """One expression to prove: where it comes from, and the PromQL."""

    source: str
    title: str
    expr: str

    def label(self) -> str:
        """Readable id: ``dashboard / panel``."""
        return f"{self.source} / {self.title}"


def substitute(expr: str, values: dict[str, str] | None = None) -> str:
    """Replace Grafana variables: intervals by fixed durations, template variables by ``.*`` or ``values``."""
    values = values or {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in values:
            return values[name]
        return GRAFANA_INTERVALS.get(name, ".*")

    return _VARIABLE.sub(replace, expr)


def without_zero_fallback(query: ProbeQuery) -> ProbeQuery:
    """The query minus a trailing ``or on() vector(0)``, to prove the metric itself exists."""
    return ProbeQuery(query.source, query.title, _FALLBACK.sub("", query.expr))


def panel_queries(json_dir: Path = DASHBOARD_DIR) -> list[ProbeQuery]:
    """Every target ``expr`` of every panel of every dashboard JSON in ``json_dir``."""
    out = []
    for path in sorted(json_dir.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in _panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    out.append(
                        ProbeQuery(
                            f"{path.stem}",
                            f"{panel.get('title', '?')} [{target.get('refId', '')}]",
                            target["expr"],
                        )
                    )
    return out


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat = []
    for panel in panels:
        flat.append(panel)
        flat.extend(_panels(panel.get("panels", [])))
    return flat


_LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")


def variable_queries(json_dir: Path = DASHBOARD_DIR) -> list[tuple[ProbeQuery, str]]:
    """``(selector, label)`` of every ``label_values(...)`` template variable, as probe queries."""
    out = []
    for path in sorted(json_dir.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for variable in board.get("templating", {}).get("list", []):
            match = (
                _LABEL_VALUES.match(str(variable.get("query", "")).strip())
                if variable.get("type") == "query"
                else None
            )
            if match:
                query = ProbeQuery(path.stem, f"variable {variable['name']}", match.group("selector") or "")
                out.append((query, match.group("label")))
    return out


def rule_files(rules_dir: Path = RULES_DIR) -> list[Path]:
    """The rule files Prometheus loads (tests excluded)."""
    return sorted(rules_dir.glob("*.yml"))


def recording_rules(rules_dir: Path = RULES_DIR, by_expression: bool = False) -> list[ProbeQuery]:
    """Every recorded series name once, queried by name; or every recording rule, queried by its expression.

    Several rules may record one name with different labels (the SLO rules record one series per objective
    window): by name they are one query, by expression each is its own (``<name> #<n>``)."""
    out: list[ProbeQuery] = []
    seen: dict[str, int] = {}
    for path in rule_files(rules_dir):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                if "record" not in rule:
                    continue
                name = rule["record"]
                seen[name] = seen.get(name, 0) + 1
                if by_expression:
                    title = name if seen[name] == 1 else f"{name} #{seen[name]}"
                    out.append(ProbeQuery(path.name, title, rule["expr"].strip()))
                elif seen[name] == 1:
                    out.append(ProbeQuery(path.name, name, name))
    return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrometheusServer:
    """A real ``prometheus`` process with its own config, storage dir and port (127.0.0.1)."""

    def __init__(
        self,
        workdir: Path,
        scrape_targets: dict[str, list[str]],
        rules: list[Path] | None = None,
        interval: str = "1s",
        binary: str | None = None,
    ) -> None:
        self.binary = binary or shutil.which("prometheus") or "prometheus"
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {
                "scrape_interval": interval,
                "evaluation_interval": interval,
                "scrape_timeout": interval,
            },
            "rule_files": [str(p) for p in (rules or [])],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]}
                for job, targets in scrape_targets.items()
            ],
        }
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = workdir / "prometheus.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        """Start and wait until ``/-/ready`` answers."""
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1d",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready after {timeout}s: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        """Terminate the process."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>`` and return ``data`` (raise on an API error)."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise ValueError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result series (an empty list means no data)."""
        data = self.api("query", query=expr)
        result = data["result"]
        return result if isinstance(result, list) else [result]

    def label_values(self, label: str, selector: str = "") -> list[str]:
        """Values of ``label`` (on series matching ``selector``), as a Grafana variable would list them."""
        params = {"match[]": selector} if selector else {}
        return list(self.api(f"label/{label}/values", **params))

    def targets_up(self) -> bool:
        """Every scrape target healthy."""
        active = self.api("targets")["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)


def probe(
    server: PrometheusServer,
    queries: list[ProbeQuery],
    timeout: float = 60.0,
    values: dict[str, str] | None = None,
) -> dict[str, str]:
    """Query each expression until it returns data or ``timeout`` passes; return ``{label: problem}`` left."""
    pending = {q.label(): q for q in queries}
    problems: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for label, item in list(pending.items()):
            try:
                if server.query(substitute(item.expr, values)):
                    del pending[label]
                    problems.pop(label, None)
                else:
                    problems[label] = f"no data: {item.expr}"
            except ValueError as exc:
                problems[label] = f"{exc}: {item.expr}"
        if pending:
            time.sleep(1.0)
    return {label: problems.get(label, "no data") for label in pending}


def probe_everything(server: PrometheusServer, timeout: float = 120.0) -> dict[str, str]:
    """Every panel query, every recording rule and every ``label_values`` variable; ``{}`` when all have data.

    The end-to-end test with the real DAG set calls this once its runs have finished and the bridge has been
    scraped (``StatsdSink.forward_to`` can feed the bridge from the Airflow stack fixture).
    """
    problems = probe(server, panel_queries() + recording_rules(), timeout=timeout)
    for query, label in variable_queries():
        if not server.label_values(label, substitute(query.expr)):
            problems[query.label()] = f"no values for label {label} on {query.expr or 'any series'}"
    return problems
