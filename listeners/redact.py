"""Redaction of free text (exception messages, import-error tracebacks) before it reaches an event or alert.

Two layers, both applied:

1. Airflow's secrets maskers: the task SDK one (``airflow.sdk._shared.secrets_masker``, fed with every
   Connection password/extra and sensitive Variable a task fetched) and the core one
   (``airflow._shared.secrets_masker``, scheduler / api-server / dag-processor). Only maskers of modules
   already imported in the process are consulted: a masker nobody fed has nothing to hide.
2. The project's :func:`portfolio.redaction.redact`: registered secret values
   (:func:`portfolio.redaction.register_secret`), ``password=...`` / ``token: ...`` pairs and
   ``scheme://user:pass@host`` URLs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from portfolio import redaction

MASK = redaction.MASK
_MASKER_MODULES = ("airflow.sdk._shared.secrets_masker", "airflow._shared.secrets_masker")


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
