"""The fixture copies of the team's reference data stay identical to the shared originals."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.monitoring._support import FIXTURES, SHARED

PAIRS = [
    (FIXTURES / "statsd_exporter" / name, SHARED / "conformance" / name)
    for name in (
        "statsd_escape_cases.json",
        "statsd_line_cases.json",
        "statsd_line_cases.meta.json",
        "statsd_mapping_cases.json",
    )
] + [
    (
        FIXTURES / "airflow" / "airflow-3.3.2-statsd-metric-names.txt",
        SHARED / "reference" / "airflow-3.3.2-statsd-metric-names.txt",
    )
]


@pytest.mark.parametrize(("copy", "shared"), PAIRS, ids=[p[0].name for p in PAIRS])
def test_fixture_matches_shared_copy(copy: Path, shared: Path) -> None:
    """Where ``../shared`` exists next to the checkout, the fixture is byte-identical to it."""
    assert copy.is_file()
    if shared.is_file():
        assert copy.read_bytes() == shared.read_bytes()
