"""OpenLineage events are masked before any transport writes them: conf, secret-looking keys, failure text.

The events go through the add-on's transport (``lineage.transport.GuardedTransport``) wrapping a real file
transport, built by OpenLineage's transport factory from the setting rendered from ``config/airflow.yml``.
"""

from __future__ import annotations

import json
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.openlineage.plugins.facets import AirflowDagRunFacet, AirflowRunFacet
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.facet_v2 import error_message_run
from openlineage.client.transport import get_default_factory

from lineage import masking
from lineage.transport import GuardedTransport
from local_stack.airflow_env import StackLayout, settings_environment

CANARY = "cAnArY-lineage-5f0e1d2c"


def _event(conf: dict[str, Any], error: str | None = None, extra_task: dict[str, Any] | None = None) -> RunEvent:
    facets: dict[str, Any] = {
        "airflow": AirflowRunFacet(dag={"dag_id": "d"}, dagRun={"dag_id": "d", "run_id": "r", "conf": conf},
                                   task=extra_task or {"task_id": "t"}, taskInstance={"try_number": 1},
                                   taskUuid=str(uuid.uuid4())),
        "airflowDagRun": AirflowDagRunFacet(dag={"dag_id": "d"}, dagRun={"run_id": "r", "conf": conf}),
    }
    if error is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(message=error, programmingLanguage="python")
    return RunEvent(eventType=RunState.FAIL, eventTime=datetime.now(UTC).isoformat(),
                    run=Run(runId=str(uuid.uuid4()), facets=facets), job=Job(namespace="ns", name="d.t"),
                    producer="https://example.invalid/producer")


@pytest.fixture
def transport(tmp_path: Path) -> Any:
    """The project's configured transport (guarded -> file) writing under ``tmp_path``."""
    env = settings_environment(StackLayout(home=tmp_path))
    (tmp_path / "openlineage").mkdir()
    return get_default_factory().create(json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"]))


def _written(tmp_path: Path) -> list[dict[str, Any]]:
    file = tmp_path / "openlineage" / "events.jsonl"
    return [json.loads(line) for line in file.read_text().splitlines()] if file.exists() else []


def test_the_configured_transport_masks_before_writing_to_the_file(transport: Any) -> None:
    assert type(transport) is GuardedTransport
    assert transport.transport.kind == "file"


def test_every_conf_value_is_masked_and_its_keys_kept(transport: Any, tmp_path: Path) -> None:
    conf = {"note": CANARY, "note_token": CANARY, "dsn": f"host=h password={CANARY}", "n": 5,
            "nested": {"list": [CANARY]}}
    transport.emit(_event(conf))
    (event,) = _written(tmp_path)
    for facet in ("airflow", "airflowDagRun"):
        assert event["run"]["facets"][facet]["dagRun"]["conf"] == {
            "note": "***", "note_token": "***", "dsn": "***", "n": "***", "nested": {"list": ["***"]}}
    assert CANARY not in json.dumps(event)


def test_failure_text_is_masked_with_the_live_task_sdk_masker(transport: Any, tmp_path: Path) -> None:
    from airflow.sdk._shared.secrets_masker import mask_secret

    secret = f"conn-pw-{uuid.uuid4().hex[:12]}"
    mask_secret(secret)  # registered after the transport was built, as a task fetching a Connection does
    transport.emit(_event({}, error=f"login refused; credential used: {secret}; retry with password=hunter22"))
    (event,) = _written(tmp_path)
    assert event["run"]["facets"]["errorMessage"]["message"] == (
        "login refused; credential used: ***; retry with password=***")


def test_values_under_secret_looking_keys_are_masked_anywhere(transport: Any, tmp_path: Path) -> None:
    transport.emit(_event({}, extra_task={"task_id": "t", "op_kwargs": {"api_key": "plain-value", "n": 1}}))
    (event,) = _written(tmp_path)
    assert event["run"]["facets"]["airflow"]["task"]["op_kwargs"] == {"api_key": "***", "n": 1}
    assert event["job"]["name"] == "d.t" and event["producer"] == "https://example.invalid/producer"


def test_a_masking_failure_drops_the_event_and_is_counted(transport: Any, tmp_path: Path, udp_metrics: socket.socket,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("masker down")

    monkeypatch.setattr(masking, "scrub", broken)
    transport.emit(_event({}, error=f"credential used: {CANARY}"))
    datagram = udp_metrics.recv(1024).decode()
    assert _written(tmp_path) == []
    assert datagram == "pmx.observability.failure,component=lineage,reason=mask:1|c"


def test_the_original_event_is_left_alone(transport: Any) -> None:
    event = _event({"note": CANARY})
    transport.emit(event)
    assert event.run.facets["airflow"].dagRun["conf"] == {"note": CANARY}  # the provider may still use it


def test_a_transport_failure_is_counted_and_left_to_the_provider(udp_metrics: socket.socket) -> None:
    """HTTP to an endpoint nothing listens on (the shipped timeout and retries): the error reaches the caller (the
    provider's adapter, which logs it and never lets it reach the task) after one count of reason=transport."""
    from requests.exceptions import ConnectionError as RequestsConnectionError

    from lineage.transport import guarded, http_transport
    from tests.support import free_port

    transport = get_default_factory().create(guarded(http_transport(f"http://127.0.0.1:{free_port()}")))
    with pytest.raises(RequestsConnectionError):
        transport.emit(_event({}))
    datagram = udp_metrics.recv(1024).decode()
    assert datagram == "pmx.observability.failure,component=lineage,reason=transport:1|c"
