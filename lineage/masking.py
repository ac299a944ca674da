"""Mask secrets in every OpenLineage event before any transport writes or sends it.

The provider redacts events with a copy of the task SDK masker taken when its adapter is built: a secret
registered later (a Connection password the task fetched) and the scheduler's DAG-run events pass through
unmasked, run conf included. The add-on's transport (:mod:`lineage.transport`) therefore runs every event
through :func:`mask_value` before the real transport (file, or HTTP to Marquez) sees it, which

* replaces every value of a run conf (any ``conf`` mapping of a facet, e.g. ``airflow.dagRun.conf``) with
  ``***``, keeping the keys: a conf is operator input that can carry anything, and a scheduler cannot know
  every secret;
* masks values under secret-looking keys (``note_token``, ``password``, ``dsn``...) anywhere in the event;
* runs every other string (``errorMessage.message``, stack traces, task info) through the live Airflow
  maskers and the project's redaction (:func:`foundation.scrub.scrub`).

A masking failure raises; the transport then drops the event (fail closed) and counts it.
"""

from __future__ import annotations

from typing import Any

import attr

from foundation.scrub import MASK, MAX_DEPTH, mask_all, scrub, sensitive_key

CONF_KEYS = frozenset({"conf", "dag_run_conf"})


def mask_value(value: Any, key: str | None = None, depth: int = 0) -> Any:
    """``value`` with secrets masked; attrs objects (events, facets) are changed in place and returned."""
    if depth > MAX_DEPTH:
        return MASK
    if value is None or isinstance(value, (bool, int, float)):
        return MASK if sensitive_key(key) and not isinstance(value, bool) and value is not None else value
    if key in CONF_KEYS and isinstance(value, dict):
        return mask_all(value)
    if sensitive_key(key):
        return mask_all(value) if isinstance(value, (dict, list, tuple, str)) else MASK
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: mask_value(v, str(k), depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(v, None, depth + 1) for v in value]
    if attr.has(type(value)):
        for field in attr.fields(type(value)):
            current = getattr(value, field.name)
            masked = mask_value(current, field.name.lstrip("_"), depth + 1)
            if masked is not current:
                object.__setattr__(value, field.name, masked)
        return value
    return value  # enums, datetimes, UUIDs: no free text

