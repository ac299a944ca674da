"""The bridge's own metrics, under statsd_exporter's names so one set of alert rules fits both."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from monitoring.statsd_bridge.bridge import Bridge

VERSION = "0.30.0-pmx"
SAMPLE_ERROR_REASONS = (
    "malformed_line",
    "malformed_component",
    "malformed_value",
    "invalid_sample_factor",
    "mixed_tagging_styles",
    "illegal_event",
    "not_enough_parts_after_colon",
    "invalid_extended_aggregate_type",
    "malformed_container_id",
)
EVENT_TYPES = ("counter", "gauge", "observer")


@dataclass(slots=True)
class ListenerStats:
    """Transport counters, updated by the listener threads."""

    udp_packets: int = 0
    udp_drops_base: int = 0
    tcp_connections: int = 0
    tcp_errors: int = 0
    tcp_too_long: int = 0
    reloads: Counter[str] = field(default_factory=Counter)
    udp_drops_probe: list[object] = field(default_factory=list)  # callables returning kernel drop counts

    def udp_drops(self) -> int:
        """UDP datagrams the kernel dropped because the bridge did not read them in time."""
        total = self.udp_drops_base
        for probe in self.udp_drops_probe:
            total += int(probe())  # type: ignore[operator]
        return total


HELP = {
    "statsd_exporter_build_info": "Build information of the StatsD bridge.",
    "statsd_exporter_udp_packets_total": "The total number of StatsD packets received over UDP.",
    "statsd_exporter_udp_packet_drops_total": "UDP packets dropped before the bridge read them.",
    "statsd_exporter_tcp_connections_total": "The total number of TCP connections handled.",
    "statsd_exporter_tcp_connection_errors_total": "The number of errors encountered reading from TCP.",
    "statsd_exporter_tcp_too_long_lines_total": "The number of lines discarded due to being too long.",
    "statsd_exporter_lines_total": "The total number of StatsD lines received.",
    "statsd_exporter_samples_total": "The total number of StatsD samples received.",
    "statsd_exporter_sample_errors_total": "The total number of errors parsing StatsD samples.",
    "statsd_exporter_tags_total": "The total number of DogStatsD tags processed.",
    "statsd_exporter_tag_errors_total": "The number of errors parsing DogStatsD tags.",
    "statsd_exporter_events_total": "The total number of StatsD events seen.",
    "statsd_exporter_events_unmapped_total": "The total number of StatsD events no mapping was found for.",
    "statsd_exporter_events_actions_total": "The total number of StatsD events by action.",
    "statsd_exporter_events_conflict_total": "The total number of StatsD events with conflicting names.",
    "statsd_exporter_events_error_total": "The total number of StatsD events discarded due to errors.",
    "statsd_exporter_metrics_total": "The total number of metrics.",
    "statsd_exporter_loaded_mappings": "The current number of configured metric mappings.",
    "statsd_exporter_config_reloads_total": "The number of configuration reloads.",
    "statsd_bridge_series": "Series currently exported by the bridge.",
    "statsd_bridge_series_limit": "The bridge's cap on series (limit: total, per_metric); 0 means no cap.",
    "statsd_bridge_series_limit_drops_total": "Events dropped because their new series was over a series cap.",
}
LIMITS = ("per_metric", "total")
SELF_METRIC_NAMES = frozenset(HELP)
RESERVED_NAMES = SELF_METRIC_NAMES | {n[:-6] for n in SELF_METRIC_NAMES if n.endswith("_total")}


class SelfCollector:
    """prometheus-client collector for the bridge's own counters."""

    def __init__(self, bridge: Bridge, listeners: ListenerStats) -> None:
        self.bridge = bridge
        self.listeners = listeners

    def collect(self) -> Iterator[Metric]:
        """Yield every self-metric (read under the bridge lock)."""
        bridge, net = self.bridge, self.listeners
        with bridge.lock:
            bridge.fold_stats()
            parse, events = bridge.parse_stats, bridge.event_stats
            lines, samples = bridge.lines, parse.samples + events.samples
            tags, tag_errors = parse.tags + events.tags, parse.tag_errors + events.tag_errors
            sample_errors = Counter(dict.fromkeys(SAMPLE_ERROR_REASONS, 0))
            sample_errors.update(parse.sample_errors)
            by_type = Counter(dict.fromkeys(EVENT_TYPES, 0))
            by_type.update(events.events)
            conflicts = Counter(dict.fromkeys(EVENT_TYPES, 0))
            conflicts.update(events.conflicts)
            kinds = bridge.registry.count_by_kind()
            series = bridge.registry.series_count
            caps = bridge.registry.limits
            limited = Counter(dict.fromkeys(LIMITS, 0))
            limited.update(events.limited)
            loaded = len(bridge.mapper.config.mappings)
            actions, errors, unmapped = dict(events.actions), dict(events.errors), events.unmapped
        info = GaugeMetricFamily(
            "statsd_exporter_build_info",
            HELP["statsd_exporter_build_info"],
            labels=["version", "implementation"],
        )
        info.add_metric([VERSION, "python"], 1.0)
        yield info
        yield _counter("statsd_exporter_udp_packets_total", net.udp_packets)
        yield _counter("statsd_exporter_udp_packet_drops_total", net.udp_drops())
        yield _counter("statsd_exporter_tcp_connections_total", net.tcp_connections)
        yield _counter("statsd_exporter_tcp_connection_errors_total", net.tcp_errors)
        yield _counter("statsd_exporter_tcp_too_long_lines_total", net.tcp_too_long)
        yield _counter("statsd_exporter_lines_total", lines)
        yield _counter("statsd_exporter_samples_total", samples)
        yield _labelled("statsd_exporter_sample_errors_total", "reason", sample_errors)
        yield _counter("statsd_exporter_tags_total", tags)
        yield _counter("statsd_exporter_tag_errors_total", tag_errors)
        yield _labelled("statsd_exporter_events_total", "type", by_type)
        yield _counter("statsd_exporter_events_unmapped_total", unmapped)
        yield _labelled("statsd_exporter_events_actions_total", "action", actions)
        yield _labelled("statsd_exporter_events_conflict_total", "type", conflicts)
        yield _labelled("statsd_exporter_events_error_total", "reason", errors)
        metrics = GaugeMetricFamily(
            "statsd_exporter_metrics_total", HELP["statsd_exporter_metrics_total"], labels=["type"]
        )
        for kind, count in sorted(kinds.items()):
            metrics.add_metric([kind], float(count))
        yield metrics
        yield GaugeMetricFamily(
            "statsd_exporter_loaded_mappings", HELP["statsd_exporter_loaded_mappings"], value=float(loaded)
        )
        yield _labelled("statsd_exporter_config_reloads_total", "outcome", net.reloads)
        yield GaugeMetricFamily("statsd_bridge_series", HELP["statsd_bridge_series"], value=float(series))
        cap = GaugeMetricFamily("statsd_bridge_series_limit", HELP["statsd_bridge_series_limit"], labels=["limit"])
        cap.add_metric(["per_metric"], float(caps.per_metric))
        cap.add_metric(["total"], float(caps.total))
        yield cap
        yield _labelled("statsd_bridge_series_limit_drops_total", "limit", limited)


def _counter(name: str, value: float) -> Metric:
    return CounterMetricFamily(name, HELP[name], value=float(value))


def _labelled(name: str, label: str, values: dict[str, int] | Counter[str]) -> Metric:
    family = CounterMetricFamily(name, HELP[name], labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], float(value))
    return family
