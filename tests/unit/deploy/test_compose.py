"""The production compose stack is consistent with the project's single sources of configuration."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from foundation.paths import REPO_ROOT
from local_stack import compose
from tests.unit.deploy._compose import is_pinned, rendered_env

DEPLOY = REPO_ROOT / "deploy"


@pytest.fixture(scope="module")
def stack() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_rendered_env_file_is_up_to_date() -> None:
    assert compose.main(["--check"]) == 0, "run: python -m local_stack.compose"


def test_env_file_carries_the_scale_path_and_no_secret_values() -> None:
    env = rendered_env()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__METRICS__STATSD_HOST"] == "statsd-exporter"
    assert env["AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED"] == "True"
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env
    # the secrets backend's kwargs name the Docker secrets' files (paths only, checked below), never values
    backend_files = json.loads(env.pop("AIRFLOW__SECRETS__BACKEND_KWARGS"))
    assert set(backend_files) == {"connections_file_path", "variables_file_path"}
    assert all(re.fullmatch(r"/run/secrets/[\w.]+\.json", path) for path in backend_files.values())
    for key, value in env.items():
        if re.search(r"(?i)secret|fernet|conn|backend|password", key) and not key.endswith(("_CMD", "_FILE")):
            assert "/run/secrets/" not in value and len(value) < 200, key
    assert not any(k.endswith("FERNET_KEY") or k.endswith("JWT_SECRET") for k in env)


def test_services_share_one_image_and_publish_only_on_localhost(stack: dict) -> None:
    airflow = {"airflow-init", "api-server", "scheduler", "dag-processor", "triggerer", "worker-a", "worker-b",
               "alerts-worker"}
    assert airflow <= set(stack["services"])
    for name in airflow:
        service = stack["services"][name]
        assert service["image"] == "portfolio-maximizer:latest", name
        assert service["env_file"] == ["airflow.compose.env"], name
    for name, service in stack["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"


def test_every_secret_is_a_documented_file(stack: dict) -> None:
    readme = (DEPLOY / "secrets" / "README.md").read_text()
    used = {s for svc in stack["services"].values() for s in svc.get("secrets", [])}
    assert used == set(stack["secrets"])
    for name, spec in stack["secrets"].items():
        assert spec["file"] == f"secrets/{name}"
        assert f"`{name}`" in readme, f"{name} is not documented in deploy/secrets/README.md"
    referenced = set(re.findall(r"/run/secrets/(\w+(?:\.json)?)", compose.render()))
    assert referenced <= used, referenced - used


def test_lineage_goes_over_http_to_the_marquez_service(stack: dict) -> None:
    """Marquez, its database and its web UI are services on pinned full versions; the Airflow settings send every
    event (masked and counted by the add-on's transport) to the marquez service's lineage endpoint."""
    import json

    services = stack["services"]
    for name in ("marquez", "marquez-db", "marquez-web"):
        assert is_pinned(services[name]["image"]), services[name]["image"]
    env = rendered_env()
    transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport["type"] == "lineage.transport.GuardedTransport"
    http = transport["transport"]
    assert (http["type"], http["url"], http["endpoint"]) == ("http", "http://marquez:5000", "api/v1/lineage")
    marquez = services["marquez"]
    assert "127.0.0.1:5000:5000" in marquez["ports"]
    assert services["marquez-web"]["environment"]["MARQUEZ_HOST"] == "marquez"


def test_marquez_config_is_mounted_and_every_variable_it_reads_is_set(stack: dict) -> None:
    marquez = stack["services"]["marquez"]
    (mount,) = marquez["volumes"]
    source, target = mount.split(":")[:2]
    config = (DEPLOY / source).resolve()
    assert config.is_file() and target == marquez["environment"]["MARQUEZ_CONFIG"]
    settings = "\n".join(line.split("#")[0] for line in config.read_text().splitlines())
    variables = set(re.findall(r"\$\{(\w+)\}", settings))
    unset = variables - {"POSTGRES_PASSWORD"} - set(marquez["environment"])  # the password: from the secret
    assert "POSTGRES_PASSWORD" in variables and not unset, unset
    assert "/run/secrets/marquez_db_password" in " ".join(marquez["entrypoint"])
    assert "marquez_db_password" in marquez["secrets"]


def test_hosts_share_no_volume_but_airflows_own(stack: dict) -> None:
    """Each service could run on a host of its own: a named volume is mounted by one service, except Airflow's
    home of the control services; the stores every host writes are PostgreSQL databases named in the env file."""
    mounts: dict[str, set[str]] = {}
    for name, service in stack["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source in stack["volumes"]:
                mounts.setdefault(source, set()).add(name)
    shared = {volume: users for volume, users in mounts.items() if len(users) > 1}
    assert set(shared) <= {"airflow-home"}, shared
    assert not shared["airflow-home"] & {"worker-a", "worker-b", "alerts-worker"}
    env = rendered_env()
    for key in ("PORTFOLIO_DB_DSN", "PMX_ALERTS_OUTBOX_DSN", "PMX_ERROR_MONITOR_DSN"):
        assert env[key].startswith("host=postgres ") and "password" not in env[key], key


def test_every_queue_of_a_pool_has_a_worker(stack: dict) -> None:
    from orchestration.config import load_orchestration

    queues = {pool.queue for pool in load_orchestration().pools.values()} | {"default"}
    served: set[str] = set()
    for service in stack["services"].values():
        command = service.get("command", [])
        if command[:3] == ["airflow", "celery", "worker"]:
            served |= set(command[command.index("--queues") + 1].split(","))
    assert queues <= served, queues - served


def test_the_api_server_keeps_airflows_authentication(stack: dict) -> None:
    """The auth manager is Airflow's SimpleAuthManager (what config/airflow.yml configures: users from
    ``[core] simple_auth_manager_users``, passwords generated into the shared Airflow home), and no setting, in
    the env file or a service's environment, turns authentication off."""
    from airflow.configuration import conf

    env = rendered_env()
    for name, service in stack["services"].items():
        overrides = service.get("environment") or {}
        keys = overrides if isinstance(overrides, dict) else [item.split("=", 1)[0] for item in overrides]
        auth = [k for k in keys if k.startswith("AIRFLOW__") and "AUTH" in k]
        assert not auth, f"{name} overrides the auth settings of airflow.compose.env: {auth}"
    manager = env.get("AIRFLOW__CORE__AUTH_MANAGER") or conf.get_default_value("core", "auth_manager")
    assert manager.rsplit(".", 1)[-1] == "SimpleAuthManager", manager
    all_admins = env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS") or conf.get_default_value(
        "core", "simple_auth_manager_all_admins")
    assert all_admins.strip().lower() in ("false", "0", ""), "simple_auth_manager_all_admins disables auth"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].strip(), "no user can sign in"
    passwords = env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert passwords.startswith(f"{compose.CONTAINER_HOME}/"), "passwords must live in the shared Airflow home"
    assert "airflow-home:/opt/airflow" in stack["services"]["api-server"]["volumes"]
