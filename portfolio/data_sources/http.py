"""Fail-fast JSON-over-HTTP for the live sources: short timeouts, no retries, a per-host cool-down.

After a connection error or timeout the host is skipped for ``cooldown`` seconds, so that with no network a
run over fifty tickers fails over at once instead of waiting fifty times. Error texts are redacted (API keys
travel in query strings) before they leave this module.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlsplit

from foundation.redaction import bounded
from portfolio.data_sources.base import SourceError
from portfolio.secret_loader import get_secret

CONNECT_TIMEOUT_CAP = 3.0
_down: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


def host_of(url: str) -> str:
    """``scheme://host:port`` of ``url`` (the cool-down key)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def network_blocked(url: str, cooldown: float) -> str | None:
    """The reason ``url``'s host is cooling down after a network error, or ``None``."""
    with _lock:
        entry = _down.get(host_of(url))
    if entry is None:
        return None
    since = time.monotonic() - entry[0]
    if since >= cooldown:
        return None
    return f"network unreachable {since:.0f}s ago ({entry[1]}); retrying after {cooldown:.0f}s"


def mark_down(url: str, reason: str) -> None:
    """Record a network failure of ``url``'s host."""
    with _lock:
        _down[host_of(url)] = (time.monotonic(), reason)


def reset_network_state() -> None:
    """Forget every cool-down (tests, long-lived processes)."""
    with _lock:
        _down.clear()


def get_json(source: str, ticker: str, url: str, *, params: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, timeout: float = 10.0) -> Any:
    """GET ``url`` and decode JSON; every failure becomes a redacted :class:`SourceError`."""
    import requests

    try:
        response = requests.get(url, params=params, headers=headers,
                                timeout=(min(CONNECT_TIMEOUT_CAP, timeout), timeout))
    except (requests.ConnectionError, requests.Timeout) as exc:
        reason = bounded(f"{type(exc).__name__}: {exc}", 300)
        mark_down(url, type(exc).__name__)
        raise SourceError(source, ticker, reason) from None
    except requests.RequestException as exc:
        raise SourceError(source, ticker, bounded(f"{type(exc).__name__}: {exc}", 300)) from None
    if response.status_code != 200:
        raise SourceError(source, ticker, f"HTTP {response.status_code}: {bounded(response.text, 200)}")
    try:
        return response.json()
    except ValueError:
        raise SourceError(source, ticker, f"invalid JSON: {bounded(response.text, 200)}") from None


class KeyedHttpSource:
    """A REST source that needs an API key (argument, else ``key_env`` via the secret loader) and skips a host
    that has just failed (:func:`network_blocked`)."""

    name: str
    key_env: str
    default_url: str

    def __init__(self, api_key: str | None = None, *, base_url: str | None = None, timeout: float = 10.0,
                 cooldown: float = 60.0) -> None:
        self.api_key = api_key if api_key is not None else get_secret(self.key_env)
        self.base_url = base_url if base_url is not None else self.default_url
        self.timeout, self.cooldown = timeout, cooldown

    def available(self) -> tuple[bool, str]:
        """Needs an API key and a host that has not just failed."""
        if not self.api_key:
            return False, f"{self.key_env} is not set"
        blocked = network_blocked(self.base_url, self.cooldown)
        return (False, blocked) if blocked else (True, "")

    def require_available(self, ticker: str) -> None:
        """Raise the :class:`SourceError` of :meth:`available` (a direct ``fetch`` checks it too)."""
        ok, reason = self.available()
        if not ok:
            raise SourceError(self.name, ticker, reason)
