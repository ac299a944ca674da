"""Former home of the plugin: the entry point of an installation made before it moved to :mod:`addon.plugin`
still names ``listeners.plugin:PortfolioObservabilityPlugin``, so this alias keeps it resolving.

Nothing else imports it; new code uses :mod:`addon.plugin`.
"""

from __future__ import annotations

from addon.plugin import LISTENER, PortfolioObservabilityPlugin

__all__ = ["LISTENER", "PortfolioObservabilityPlugin"]
