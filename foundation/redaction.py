"""Process-wide registry of secret values and a redactor applied before anything is written or sent."""

from __future__ import annotations

import re
import threading
from typing import Any

MASK = "***"
MIN_SECRET_LENGTH = 4
_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
# key=value / "key": "value" pairs whose key names a secret, whatever the value
_SENSITIVE_PAIR = re.compile(
    r"""(?ix)
    (?P<key>["']?[\w.-]*(?:password|passwd|secret|token|api[_-]?key|apikey|routing[_-]?key|authorization)
       [\w.-]*["']?\s*[=:]\s*)
    (?P<quote>["']?)(?P<value>(?:bearer\s+)?[^\s"',;&{}\[\]]+)
    """
)
# every key the pattern above can match contains one of these (lower case): a cheap pre-check
_TRIGGERS = ("passw", "secret", "token", "apikey", "api_key", "api-key", "routingkey", "routing_key",
             "routing-key", "authorization")
_SENSITIVE_KEY = re.compile(r"(?i)password|passwd|secret|token|api[_-]?key|apikey|routing[_-]?key|authorization")
# credentials embedded in URLs: scheme://user:password@host
_URL_CREDENTIALS = re.compile(r"(?P<prefix>[a-z][a-z0-9+.-]*://[^/\s:@]*:)(?P<password>[^@\s/]+)(?=@)", re.I)


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that :func:`redact` masks it everywhere; short or empty values are ignored."""
    global _secrets
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets = _secrets | {value}


def registered_count() -> int:
    """How many secret values are registered."""
    return len(_secrets)


def redact(text: str) -> str:
    """Mask registered secret values, ``key=value`` pairs with secret-looking keys and URL passwords."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: m.group("prefix") + MASK, text)
    lowered = text.lower()
    if any(trigger in lowered for trigger in _TRIGGERS):
        text = _SENSITIVE_PAIR.sub(lambda m: m.group("key") + m.group("quote") + MASK, text)
    return text


def redact_data(value: Any, key: str | None = None) -> Any:
    """Redact a JSON-like structure: strings under secret-looking keys are masked, other strings redacted."""
    if isinstance(value, str):
        return MASK if key is not None and _SENSITIVE_KEY.search(key) else redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value


def bounded(text: str, limit: int = 2000) -> str:
    """Redact ``text`` and cut it to ``limit`` characters, saying how much was cut."""
    text = redact(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} more characters]"
