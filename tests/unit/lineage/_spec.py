"""Validate OpenLineage events and facets offline against the spec's JSON schemas.

The schemas are the fixture copy of the spec (``fixtures/openlineage_spec``, identical to the team's shared
conformance copy; or ``$PMX_OPENLINEAGE_SPEC_DIR``): the core ``OpenLineage.json`` and one file per facet,
registered under their
``$id`` so that the facets' references to the core resolve without network.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from foundation.paths import REPO_ROOT
from tests.support import require

# where a facet sits decides which schema declares its key (some keys are declared more than once)
SLOTS = {"run": "RunFacet", "job": "JobFacet", "dataset": "DatasetFacet", "inputFacets": "InputDatasetFacet",
         "outputFacets": "OutputDatasetFacet"}


FIXTURE = Path(__file__).resolve().parent / "fixtures" / "openlineage_spec"
SHARED = REPO_ROOT.parent / "shared" / "conformance" / "openlineage" / "spec"


def spec_dir() -> Path:
    """The directory holding ``OpenLineage.json`` and ``facets/``."""
    return Path(os.environ.get("PMX_OPENLINEAGE_SPEC_DIR") or FIXTURE)


@lru_cache(maxsize=1)
def _schemas() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    root = spec_dir()
    require((root / "OpenLineage.json").is_file(), f"OpenLineage spec not found in {root}")
    core = json.loads((root / "OpenLineage.json").read_text(encoding="utf-8"))
    facets = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((root / "facets").glob("*.json"))]
    return core, facets


def _validator(schema: dict[str, Any]) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    core, facets = _schemas()
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in [core, *facets])
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def facet_schema(key: str, slot: str) -> dict[str, Any] | None:
    """The facet schema declaring ``key`` for a facet in ``slot`` (run, job, dataset, inputFacets...), or
    ``None`` for a facet the spec does not define (the provider's own ``airflow`` facets)."""
    _, facets = _schemas()
    base = SLOTS[slot]
    found = [s for s in facets if key in s.get("properties", {})
             and f"/OpenLineage.json#/$defs/{base}\"" in json.dumps(s["$defs"])]
    assert len(found) <= 1, f"{len(found)} facet schemas declare {key!r} as a {base}"
    return found[0] if found else None


def facet_errors(key: str, facet: dict[str, Any], slot: str) -> list[str]:
    """How ``{key: facet}`` (serialized) breaks its facet schema (the spec must define it)."""
    schema = facet_schema(key, slot)
    assert schema is not None, f"the spec defines no {slot} facet {key!r}"
    return [e.message for e in _validator(schema).iter_errors({key: facet})]


def event_errors(event: dict[str, Any]) -> list[str]:
    """How a serialized event breaks ``OpenLineage.json``."""
    core, _ = _schemas()
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator(core).iter_errors(event)]


def every_facet(event: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(slot, key, facet)`` of every facet of a serialized run event."""
    out = [("run", k, v) for k, v in event.get("run", {}).get("facets", {}).items()]
    out += [("job", k, v) for k, v in event.get("job", {}).get("facets", {}).items()]
    for ds in [*event.get("inputs", []), *event.get("outputs", [])]:
        out += [("dataset", k, v) for k, v in ds.get("facets", {}).items()]
        out += [("inputFacets", k, v) for k, v in ds.get("inputFacets", {}).items()]
        out += [("outputFacets", k, v) for k, v in ds.get("outputFacets", {}).items()]
    return out
