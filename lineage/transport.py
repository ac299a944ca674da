"""The OpenLineage transport of the add-on: mask every event, then hand it to the real transport, counting failures.

``[openlineage] transport`` names :class:`GuardedTransport` with the real transport nested under ``transport``
(the file transport of the local stack, HTTP to Marquez in ``deploy/``)::

    {"type": "lineage.transport.GuardedTransport", "transport": {"type": "file", "log_file_path": "..."}}

For each event it

* deep-copies it and masks the copy (:func:`lineage.masking.mask_value`); a masking failure drops the event
  (fail closed) and is counted ``pmx.observability.failure{component=lineage, reason=mask}``;
* emits the masked copy through the inner transport; a failure (Marquez refusing or unreachable, a full disk) is
  counted ``{component=lineage, reason=transport}`` with an ``observability_failure`` event, then re-raised so
  that the provider logs it and counts its own ``ol.emit.failed``. The provider never lets it reach the task.

:func:`http_transport` is the HTTP transport to Marquez whose worst case fits in ``[openlineage]
execution_timeout`` (docs/lineage.md), used by ``deploy/`` and by the tests that send a real run's events.
"""

from __future__ import annotations

import copy
from typing import Any

import attr
from openlineage.client.transport import Config, Transport, get_default_factory

from foundation.failures import report_failure
from lineage.masking import mask_value

KIND = "lineage.transport.GuardedTransport"
HTTP_TIMEOUT_SECONDS = 2.0
HTTP_RETRY = {"total": 1, "connect": 1, "read": 1, "status": 1, "backoff_factor": 0,
              "status_forcelist": [500, 502, 503, 504], "allowed_methods": ["POST"],
              "respect_retry_after_header": False}


def guarded(inner: dict[str, Any]) -> dict[str, Any]:
    """The ``[openlineage] transport`` setting that masks and counts around ``inner``."""
    return {"type": KIND, "transport": inner}


def http_transport(url: str) -> dict[str, Any]:
    """HTTP to an OpenLineage endpoint speaking Marquez's ``POST /api/v1/lineage`` at ``url``: at most two
    attempts of ``HTTP_TIMEOUT_SECONDS`` each, no backoff, no ``Retry-After`` honoured."""
    return {"type": "http", "url": url, "endpoint": "api/v1/lineage", "timeout": HTTP_TIMEOUT_SECONDS,
            "retry": dict(HTTP_RETRY)}


@attr.define
class GuardedConfig(Config):
    """The nested transport's own settings (any transport the OpenLineage client knows)."""

    transport: dict[str, Any] = attr.field(factory=dict)

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> GuardedConfig:
        inner = params.get("transport")
        if not isinstance(inner, dict) or "type" not in inner:
            raise ValueError(f"{KIND} needs a nested 'transport' with a 'type', got {inner!r}")
        return cls(transport=inner)


class GuardedTransport(Transport):
    """Masks, emits through the nested transport, counts what fails (see the module docstring)."""

    kind = "guarded"
    config_class = GuardedConfig

    def __init__(self, config: GuardedConfig) -> None:
        self.transport = get_default_factory().create(config.transport)

    def emit(self, event: Any) -> Any:
        """The inner transport's result; ``None`` when masking dropped the event."""
        try:
            masked = mask_value(copy.deepcopy(event))
        except Exception as exc:  # fail closed: an unmasked event must not leave the process
            report_failure("lineage", "mask", exc)
            return None
        try:
            return self.transport.emit(masked)
        except Exception as exc:
            report_failure("lineage", "transport", exc, transport=str(self.transport.kind))
            raise

    def close(self, timeout: float = -1) -> bool:
        return self.transport.close(timeout)
