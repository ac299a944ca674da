"""Fixtures of the listener tests: a fresh listener per test writing under ``pmx_home``, a UDP receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from addon.routing import route_error_alert
from listeners import config as listener_config
from listeners.hooks import PortfolioListener
from tests.unit.listeners._support import UdpReceiver


@pytest.fixture
def udp(monkeypatch: pytest.MonkeyPatch) -> Iterator[UdpReceiver]:
    """A StatsD receiver; the project's metrics go to it."""
    receiver = UdpReceiver()
    monkeypatch.setenv("PMX_STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("PMX_STATSD_PORT", str(receiver.port))
    monkeypatch.setenv("PMX_STATSD_ENABLED", "true")
    yield receiver
    receiver.sock.close()


@pytest.fixture
def listener(pmx_home: Path, udp: UdpReceiver,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[PortfolioListener]:
    """A fresh listener with the repository's config, writing under ``pmx_home``."""
    for name in ("PMX_LISTENER_ENABLED", "PMX_LISTENER_INJECT_FAULT"):
        monkeypatch.delenv(name, raising=False)
    listener_config._cache.clear()
    instance = PortfolioListener(route_alert=route_error_alert)  # as addon.parts builds it, alerting on
    yield instance
    instance.flush(10)
    listener_config._cache.clear()
