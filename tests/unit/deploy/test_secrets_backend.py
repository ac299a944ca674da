"""Production Connections and Variables come through the secrets backend the compose env file configures
(``AIRFLOW__SECRETS__BACKEND`` / ``_KWARGS`` from local_stack/compose.py), read from files as Docker mounts them."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from tests.unit.deploy._compose import load, rendered_env


def backend_from_env(tmp_path: Path):
    """The configured backend class with the configured kwargs, each file moved from /run/secrets/ to tmp_path."""
    env = rendered_env()
    kwargs = {key: str(tmp_path / Path(path).name)
              for key, path in json.loads(env["AIRFLOW__SECRETS__BACKEND_KWARGS"]).items()}
    module, _, name = env["AIRFLOW__SECRETS__BACKEND"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs), kwargs


def test_a_connection_and_a_variable_load_through_the_configured_backend(tmp_path: Path) -> None:
    (tmp_path / "airflow_connections.json").write_text(json.dumps({
        "slack_alerts": {"conn_type": "slack", "password": "xoxb-test-token",
                         "extra": {"base_url": "https://slack.example.com/api/"}},
        "pagerduty_events": "pagerduty-events://:routing-key@events.pagerduty.com",
    }))
    (tmp_path / "airflow_variables.json").write_text(json.dumps({"portfolio.tickers": "AAPL,MSFT"}))
    backend, kwargs = backend_from_env(tmp_path)
    assert set(kwargs) == {"connections_file_path", "variables_file_path"}
    slack = backend.get_connection("slack_alerts")
    assert (slack.conn_type, slack.password, slack.extra_dejson["base_url"]) == (
        "slack", "xoxb-test-token", "https://slack.example.com/api/")
    assert backend.get_connection("pagerduty_events").password == "routing-key"
    assert backend.get_variable("portfolio.tickers") == "AAPL,MSFT"
    assert backend.get_connection("not_there") is None


def test_the_files_are_docker_secrets_of_every_airflow_service() -> None:
    stack = load("docker-compose.yml")
    files = {Path(p).name for p in json.loads(rendered_env()["AIRFLOW__SECRETS__BACKEND_KWARGS"]).values()}
    assert files == {"airflow_connections.json", "airflow_variables.json"}
    for name in ("api-server", "scheduler", "dag-processor", "triggerer", "worker-a", "worker-b", "alerts-worker"):
        assert files <= set(stack["services"][name]["secrets"]), name


def test_a_broken_connections_file_is_an_error_naming_it(tmp_path: Path) -> None:
    from airflow.exceptions import AirflowException

    (tmp_path / "airflow_connections.json").write_text("{not json")
    (tmp_path / "airflow_variables.json").write_text("{}")
    backend, _ = backend_from_env(tmp_path)
    with pytest.raises(AirflowException, match=r"airflow_connections\.json"):
        backend.get_connection("slack_alerts")
