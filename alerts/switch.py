"""Whether the SLA part of the add-on is on: ``PMX_ALERTS_ENABLED`` wins, then ``enabled`` in ``alerting.yml``.

Off, :func:`alerts.deadlines.deadlines_for_dag` attaches no deadlines and the plugin mounts neither the
SLA-misses view nor the deadline reference. A broken ``alerting.yml`` keeps the SLAs on (the error surfaces
where the config is used), so a typo never switches alerting off silently.
"""

from __future__ import annotations

import os

from foundation.config_loader import ConfigError

ENABLED_ENV = "PMX_ALERTS_ENABLED"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env_switch() -> bool | None:
    """``PMX_ALERTS_ENABLED`` as a bool, None when unset; an unknown value is a :class:`ConfigError`."""
    raw = os.environ.get(ENABLED_ENV)
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(ENABLED_ENV, ENABLED_ENV, raw, "must be true or false")


def alerts_enabled() -> bool:
    """The effective switch (True when the config cannot be read)."""
    try:
        switch = env_switch()
    except ConfigError:
        return True
    if switch is not None:
        return switch
    try:
        from alerts.alerting_config import load_alerting

        return load_alerting().enabled
    except Exception:
        return True
