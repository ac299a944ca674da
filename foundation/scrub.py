"""Redaction of free text (exception messages, import-error tracebacks) before it reaches an event or alert.

Two layers, both applied:

1. Airflow's secrets maskers: the task SDK one (``airflow.sdk._shared.secrets_masker``, fed with every
   Connection password/extra and sensitive Variable a task fetched) and the core one
   (``airflow._shared.secrets_masker``, scheduler / api-server / dag-processor). Only maskers of modules
   already imported in the process are consulted: a masker nobody fed has nothing to hide.
2. The project's :func:`foundation.redaction.redact`: registered secret values
   (:func:`foundation.redaction.register_secret`), ``password=...`` / ``token: ...`` pairs and
   ``scheme://user:pass@host`` URLs.

:func:`scrub_data` applies the same to structures (log events, alert details, lineage facets) and masks whole
any value under a secret-looking key (``note_token``, ``dsn``...); :func:`mask_all` masks every leaf (a run conf).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from foundation import redaction

MASK = redaction.MASK
MAX_DEPTH = 32
_MASKER_MODULES = ("airflow.sdk._shared.secrets_masker", "airflow._shared.secrets_masker")
# key names Airflow's maskers treat as sensitive besides the project's own (``redaction._SENSITIVE_KEY``)
_AIRFLOW_SENSITIVE_KEYS = ("access_key", "access_token", "auth_header", "bearer", "connection_string", "dsn",
                           "passphrase", "private_key", "proxy", "service_account", "service_key",
                           "keyfile_dict", "webhook_url")


def _airflow_maskers() -> list[Callable[[str], object]]:
    out = []
    for name in _MASKER_MODULES:
        module = sys.modules.get(name)
        func = getattr(module, "redact", None) if module is not None else None
        if callable(func):
            out.append(func)
    return out


def scrub(text: str) -> str:
    """Mask every known secret in ``text`` (Airflow maskers, registered values, secret-looking pairs)."""
    for mask in _airflow_maskers():
        try:
            masked = mask(text)
        except Exception:  # a masker failure must fail closed, not leak
            return MASK
        text = masked if isinstance(masked, str) else str(masked)
    return redaction.redact(text)


def scrub_bounded(text: str, limit: int) -> str:
    """:func:`scrub` then cut to ``limit`` characters, saying how much was cut.

    Very long text is first cut to ``8 * limit`` (scrubbing a megabyte traceback is not worth it); a secret
    split by that first cut sits past ``limit`` and is dropped by the second one.
    """
    total = len(text)
    text = scrub(text[: 8 * limit])
    if total <= limit and len(text) <= limit:
        return text
    return text[:limit] + f"... [{max(total, len(text)) - limit} more characters]"


def sensitive_key(name: object) -> bool:
    """Whether a value stored under ``name`` is a secret whatever it holds (``note_token``, ``dsn``...)."""
    if not isinstance(name, str) or not name:
        return False
    lowered = name.lower()
    return bool(redaction._SENSITIVE_KEY.search(lowered)) or any(k in lowered for k in _AIRFLOW_SENSITIVE_KEYS)


def scrub_data(value: Any, key: object = None, depth: int = 0) -> Any:
    """:func:`scrub` every string of a JSON-like structure; anything under a secret-looking key becomes ``***``.

    Keys are kept; numbers, booleans and ``None`` pass unless their key is secret-looking. Deeper than
    :data:`MAX_DEPTH` the value is masked whole (fail closed).
    """
    if depth > MAX_DEPTH:
        return MASK
    if sensitive_key(key) and value is not None and not isinstance(value, bool):
        return mask_all(value)
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_data(v, k, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub_data(v, None, depth + 1) for v in value]
    return value


def mask_all(value: Any, depth: int = 0) -> Any:
    """Every leaf of ``value`` as ``***`` (keys and shape kept): for input nobody vetted, such as a run conf."""
    if isinstance(value, dict) and depth <= MAX_DEPTH:
        return {k: mask_all(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and depth <= MAX_DEPTH:
        return [mask_all(v, depth + 1) for v in value]
    return None if value is None else MASK
