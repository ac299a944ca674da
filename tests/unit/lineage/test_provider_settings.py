"""The shipped ``[openlineage]`` settings are options the installed provider knows, and it reads our values.

Also the production HTTP transport (``lineage.transport.http_transport``, rendered into deploy/ and shown in
docs/lineage.md, "Cheap emission"): the client's ``HttpConfig`` silently drops keys it does not know, so a typo
there would switch a timeout or retry bound off unnoticed.
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import attr
import pytest
import yaml
from airflow.providers.openlineage import conf as ol_conf
from airflow.providers.openlineage.get_provider_info import get_provider_info
from openlineage.client.transport.file import FileConfig
from openlineage.client.transport.http import HttpConfig
from urllib3.util import Retry

from foundation.paths import REPO_ROOT
from lineage.transport import guarded, http_transport

SHIPPED: dict[str, Any] = yaml.safe_load((REPO_ROOT / "config" / "airflow.yml").read_text())["openlineage"]
OPTIONS: dict[str, Any] = get_provider_info()["config"]["openlineage"]["options"]


def _documented_transport() -> dict[str, Any]:
    text = (REPO_ROOT / "docs" / "lineage.md").read_text()
    section = text.split("## Cheap emission", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```json\n(.*?)```", section, re.S)
    assert match, "docs/lineage.md: the Cheap emission section has no json transport example"
    return dict(json.loads(match.group(1)))


@pytest.mark.parametrize("option", sorted(SHIPPED))
def test_every_shipped_option_is_known_to_the_provider(option: str) -> None:
    assert option in OPTIONS, f"[openlineage] {option}: not an option of the installed provider"
    kind = OPTIONS[option]["type"]
    value = SHIPPED[option]
    if kind == "boolean":
        assert isinstance(value, bool), option
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), option


def test_the_provider_reads_the_cheap_emission_settings() -> None:
    """The session's Airflow settings are rendered from config/airflow.yml (tests/conftest.py)."""
    assert ol_conf.execute_in_thread() is True
    assert ol_conf.execution_timeout() == SHIPPED["execution_timeout"] < 10
    assert not ol_conf.debug_mode() and not ol_conf.include_full_task_info()


def test_the_shipped_file_transport_has_only_known_keys() -> None:
    transport = json.loads(SHIPPED["transport"].replace("{{", "{").replace("}}", "}"))
    assert transport["type"] == "lineage.transport.GuardedTransport"
    inner = transport["transport"]
    assert inner["type"] == "file"
    known = {f.name for f in FileConfig.__dataclass_fields__.values()}
    assert set(inner) - {"type"} <= known


def test_the_documented_http_transport_is_valid_and_fits_in_the_execution_timeout() -> None:
    transport = _documented_transport()
    assert transport == guarded(http_transport("http://marquez:5000")), "docs/lineage.md differs from deploy/"
    http = transport["transport"]
    assert http["type"] == "http"
    assert set(http) - {"type"} <= {f.name for f in attr.fields(HttpConfig)}
    retry = http["retry"]
    assert set(retry) <= set(inspect.signature(Retry.__init__).parameters) - {"self"}
    config = HttpConfig.from_dict(http)
    Retry(**config.retry)  # urllib3 accepts the merged retry settings
    assert config.retry["total"] == 1 and config.retry["respect_retry_after_header"] is False
    attempts = 1 + config.retry["total"]
    assert attempts * config.timeout < SHIPPED["execution_timeout"]
