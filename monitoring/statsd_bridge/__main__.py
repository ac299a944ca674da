"""``python -m monitoring.statsd_bridge --statsd.mapping-config monitoring/statsd_mapping.yml`` (flags as in
statsd_exporter; everything binds to 127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from monitoring.statsd_bridge.config_model import MappingConfigError
from monitoring.statsd_bridge.line import LineParser
from monitoring.statsd_bridge.listeners import parse_address
from monitoring.statsd_bridge.mapper import MetricMapper
from monitoring.statsd_bridge.registry import DEFAULT_MAX_SERIES, DEFAULT_MAX_SERIES_PER_METRIC, SeriesLimits
from monitoring.statsd_bridge.server import StatsDBridgeServer

EXIT_USAGE = 2  # bad flags or mapping file, as argparse and the project's other entrypoints


def _flag(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog="python -m monitoring.statsd_bridge",
        description="StatsD to Prometheus bridge (statsd_exporter mapping format).",
    )
    p.add_argument(
        "--web.listen-address",
        dest="web",
        default="127.0.0.1:9102",
        help="address for /metrics (default %(default)s)",
    )
    p.add_argument("--web.telemetry-path", dest="path", default="/metrics", help="metrics path")
    p.add_argument(
        "--statsd.listen-udp",
        dest="udp",
        default="127.0.0.1:9125",
        help='UDP address for StatsD lines, "" disables (default %(default)s)',
    )
    p.add_argument(
        "--statsd.listen-tcp",
        dest="tcp",
        default="",
        help='TCP address for StatsD lines, "" disables (default: disabled)',
    )
    p.add_argument(
        "--statsd.mapping-config",
        "--mapping-config",
        dest="mapping",
        default="",
        help="mapping file (statsd_exporter YAML format)",
    )
    p.add_argument(
        "--statsd.read-buffer",
        dest="read_buffer",
        type=int,
        default=0,
        help="UDP receive buffer in bytes (default 8 MiB, capped by net.core.rmem_max); a large "
        "buffer absorbs bursts while the bridge is busy",
    )
    p.add_argument(
        "--statsd.cache-size",
        dest="cache_size",
        type=int,
        default=1000,
        help="mapping cache entries (default %(default)s)",
    )
    p.add_argument(
        "--statsd.max-series",
        dest="max_series",
        type=int,
        default=DEFAULT_MAX_SERIES,
        help="cap on series in total; an event that would create one more is dropped and counted in "
        "statsd_bridge_series_limit_drops_total (0: no cap; default %(default)s)",
    )
    p.add_argument(
        "--statsd.max-series-per-metric",
        dest="max_series_per_metric",
        type=int,
        default=DEFAULT_MAX_SERIES_PER_METRIC,
        help="cap on series (label sets) per metric name (0: no cap; default %(default)s)",
    )
    for style in ("dogstatsd", "influxdb", "librato", "signalfx"):
        p.add_argument(
            f"--statsd.parse-{style}-tags",
            dest=style,
            type=_flag,
            default=True,
            metavar="BOOL",
            help=f"parse {style} style tags (default true)",
        )
    p.add_argument("--check-config", action="store_true", help="validate the mapping file and exit")
    p.add_argument(
        "--log.level",
        dest="log_level",
        default="info",
        choices=["debug", "info", "warn", "error"],
        help="log level",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bridge until SIGINT/SIGTERM; SIGHUP reloads the mapping file."""
    args = build_parser().parse_args(argv)
    level = "WARNING" if args.log_level == "warn" else args.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        mapper = (
            MetricMapper.from_file(args.mapping, args.cache_size)
            if args.mapping
            else MetricMapper(cache_size=args.cache_size)
        )
        web = parse_address(args.web)
        udp = parse_address(args.udp) if args.udp else None
        tcp = parse_address(args.tcp) if args.tcp else None
        limits = SeriesLimits(total=args.max_series, per_metric=args.max_series_per_metric)
    except (MappingConfigError, ValueError) as exc:  # a bad mapping file or address: a usage error
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for warning in mapper.config.warnings:
        logging.getLogger("monitoring.statsd_bridge").warning("%s: %s", args.mapping, warning)
    if args.check_config:
        print(f"{args.mapping or '(no mapping file)'}: OK, {len(mapper.config.mappings)} mappings")
        return 0
    if udp is None and tcp is None:
        print("error: at least one of --statsd.listen-udp / --statsd.listen-tcp is required", file=sys.stderr)
        return EXIT_USAGE
    parser = LineParser(args.dogstatsd, args.influxdb, args.librato, args.signalfx)
    try:
        server = StatsDBridgeServer(
            mapper,
            udp=udp,
            tcp=tcp,
            web=web,
            telemetry_path=args.path,
            parser=parser,
            read_buffer=args.read_buffer,
            mapping_path=args.mapping or None,
            limits=limits,
        )
    except OSError as exc:
        print(f"error: cannot listen: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGHUP, lambda *_: server.reload())
    with server:
        host, port = server.web_address
        logging.getLogger("monitoring.statsd_bridge").info(
            "StatsD bridge listening: udp=%s tcp=%s metrics=http://%s:%d%s (series cap: %s total, %s per metric)",
            udp, tcp, host, port, args.path, limits.total or "no", limits.per_metric or "no",
        )
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
