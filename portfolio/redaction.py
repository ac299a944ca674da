"""Process-wide registry of secret values and a redactor applied before anything is written or sent."""

from __future__ import annotations

import re
import threading

MASK = "***"
MIN_SECRET_LENGTH = 4
_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
# key=value / "key": "value" pairs whose key names a secret, whatever the value
_SENSITIVE_PAIR = re.compile(
    r"""(?ix)
    (?P<key>["']?[\w.-]*(?:password|passwd|secret|token|api[_-]?key|apikey|routing[_-]?key|authorization)
       [\w.-]*["']?\s*[=:]\s*)
    (?P<quote>["']?)(?P<value>(?:bearer\s+)?[^\s"',;&}]+)
    """
)
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
    return _SENSITIVE_PAIR.sub(lambda m: m.group("key") + m.group("quote") + MASK, text)


def bounded(text: str, limit: int = 2000) -> str:
    """Redact ``text`` and cut it to ``limit`` characters, saying how much was cut."""
    text = redact(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} more characters]"
