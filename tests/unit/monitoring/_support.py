"""Helpers for the monitoring tests: fixtures (statsd_exporter tables, Airflow names) and the mapping."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
MAPPING_FILE = REPO / "monitoring" / "statsd_mapping.yml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
AIRFLOW_NAMES = FIXTURES / "airflow" / "airflow-3.3.2-statsd-metric-names.txt"
SHARED = REPO.parent / "shared"  # the team's reference data next to the checkout, when present


def conformance_dir() -> Path:
    """``$PMX_CONFORMANCE_DIR`` or the copy of statsd_exporter's tables in ``fixtures/statsd_exporter``."""
    return Path(os.environ.get("PMX_CONFORMANCE_DIR", FIXTURES / "statsd_exporter"))


def load_table(name: str) -> Any:
    """One conformance JSON file, or ``None`` when it is not there."""
    path = conformance_dir() / name
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
