"""Build every dashboard and write ``dashboards/json/<uid>.json`` (deterministic: sorted keys, fixed layout).

``python -m dashboards.build`` regenerates the committed JSON; ``--check`` only reports differences.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import dag_health, data_pipeline, platform, sla, slo, trading

JSON_DIR = Path(__file__).resolve().parent / "json"


def configured_sla_names() -> list[str]:
    """The SLA names of ``config/slas.yml``: the same file drives Deadline Alerts, rules and these panels."""
    from alerts.sla_config import sla_names

    return sla_names()


def configured_slo_names() -> list[str]:
    """The SLAs of ``config/slas.yml`` that have an ``objective`` (the SLO dashboard's picker)."""
    from alerts.sla_config import load_slas

    return [s.name for s in load_slas() if s.objective is not None]


def dashboards(
    sla_names: Sequence[str] | None = None, slo_names: Sequence[str] | None = None
) -> dict[str, dict[str, object]]:
    """All dashboards as JSON-ready dicts, keyed by file stem (SLA and SLO pickers from ``config/slas.yml`` by
    default)."""
    if sla_names is None:
        sla_names = configured_sla_names()
    if slo_names is None:
        slo_names = configured_slo_names()
    builders: dict[str, Callable[[], object]] = {
        "airflow-platform": platform.build,
        "dag-health": dag_health.build,
        "sla-alerting": lambda: sla.build(sla_names),
        "slo": lambda: slo.build(slo_names),
        "data-pipeline": data_pipeline.build,
        "trading": trading.build,
    }
    return {name: json.loads(json.dumps(build(), cls=JSONEncoder)) for name, build in builders.items()}


def render(board: dict[str, object]) -> str:
    """The exact text written to disk for one dashboard."""
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(out_dir: Path = JSON_DIR, sla_names: Sequence[str] | None = None) -> list[Path]:
    """Write every dashboard into ``out_dir``; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, board in dashboards(sla_names).items():
        path = out_dir / f"{name}.json"
        path.write_text(render(board), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write (default) or ``--check`` the JSON files."""
    parser = argparse.ArgumentParser(prog="python -m dashboards.build", description=__doc__)
    parser.add_argument("--out", type=Path, default=JSON_DIR, help="output directory (default %(default)s)")
    parser.add_argument("--sla-names", default=None,
                        help="comma-separated SLA names for the SLA picker (default: config/slas.yml)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ from a fresh build")
    args = parser.parse_args(argv)
    names = None if args.sla_names is None else [n for n in args.sla_names.split(",") if n]
    if args.check:
        stale = [
            name
            for name, board in dashboards(names).items()
            if not (args.out / f"{name}.json").is_file()
            or (args.out / f"{name}.json").read_text(encoding="utf-8") != render(board)
        ]
        for name in stale:
            print(f"{args.out / name}.json is out of date: run python -m dashboards.build", file=sys.stderr)
        return 1 if stale else 0
    for path in write(args.out, names):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
