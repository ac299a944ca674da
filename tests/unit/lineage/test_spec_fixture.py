"""The fixture copy of the OpenLineage spec stays identical to the team's shared conformance copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.lineage._spec import FIXTURE, SHARED

FILES = sorted(p.relative_to(FIXTURE) for p in FIXTURE.rglob("*.json"))


def test_the_fixture_holds_the_core_schema_and_every_facet() -> None:
    assert Path("OpenLineage.json") in FILES
    assert len([f for f in FILES if f.parts[0] == "facets"]) == 38


@pytest.mark.parametrize("name", FILES, ids=str)
def test_fixture_matches_shared_copy(name: Path) -> None:
    """Where ``../shared`` exists next to the checkout, each file is byte-identical to it."""
    if (SHARED / name).is_file():
        assert (FIXTURE / name).read_bytes() == (SHARED / name).read_bytes()
