"""Whether the SLA part of the add-on is on: ``PMX_ALERTS_ENABLED`` wins, then ``enabled`` in ``alerting.yml``.

Off, :func:`alerts.deadlines.deadlines_for_dag` attaches no deadlines and the plugin mounts neither the
SLA-misses view nor the deadline reference. A broken ``alerting.yml`` keeps the SLAs on (the error surfaces
where the config is used), so a typo never switches alerting off silently.
"""

from __future__ import annotations

from foundation.config_loader import env_flag, part_enabled

ENABLED_ENV = "PMX_ALERTS_ENABLED"


def env_switch() -> bool | None:
    """``PMX_ALERTS_ENABLED`` as a bool, None when unset; an unknown value is a :class:`ConfigError`."""
    return env_flag(ENABLED_ENV)


def alerts_enabled() -> bool:
    """The effective switch (True when the config cannot be read)."""

    def from_config() -> bool:
        from alerts.alerting_config import load_alerting

        return load_alerting().enabled

    return part_enabled(ENABLED_ENV, from_config)
