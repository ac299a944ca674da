"""The listener event schema (``listeners/event.schema.json``) and a validator for tests and tooling."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("event.schema.json")


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of every listener event."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def schema_errors(record: dict[str, Any]) -> list[str]:
    """Every way ``record`` breaks the schema (empty when it is valid)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(load_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
            for err in sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))]

