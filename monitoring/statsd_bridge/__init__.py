"""StatsD-to-Prometheus bridge that implements statsd_exporter's line protocol and mapping semantics.

Production runs ``prom/statsd-exporter`` with the same mapping file (``monitoring/statsd_mapping.yml``);
this package is the embedded default where that binary is not available.
"""

from __future__ import annotations

from monitoring.statsd_bridge.bridge import Bridge
from monitoring.statsd_bridge.config import load_config
from monitoring.statsd_bridge.config_model import MappingConfigError
from monitoring.statsd_bridge.line import Event, LineParser, ParseStats
from monitoring.statsd_bridge.mapper import MappingResult, MetricMapper
from monitoring.statsd_bridge.server import StatsDBridgeServer

__all__ = [
    "Bridge",
    "Event",
    "LineParser",
    "MappingConfigError",
    "MappingResult",
    "MetricMapper",
    "ParseStats",
    "StatsDBridgeServer",
    "load_config",
]
