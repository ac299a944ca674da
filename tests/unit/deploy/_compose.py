"""Read the production compose files the way ``docker compose config`` would, offline.

The Compose Specification schema is the fixture copy (``fixtures/compose-spec.json``, identical to the team's
shared conformance copy, ``$PMX_COMPOSE_SPEC`` or ``../shared/conformance/compose/compose-spec.json``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from foundation.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.observability.yml")
SECRETS_DIR = DEPLOY / "secrets"  # git-ignored on purpose: its files are listed in its README
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "compose-spec.json"

# ``$$`` is a literal dollar sign; ``${NAME}``, ``${NAME:-default}``, ``${NAME?error}`` and ``$NAME`` are variables
_INTERPOLATION = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")
# name[:port]/path:major.minor[.patch][-variant][@digest]
_PINNED = re.compile(r"(?:[\w.-]+(?::\d+)?/)*[\w.-]+:v?\d+\.\d+(?:\.\d+)?(?:-[\w.-]+)?(?:@sha256:[0-9a-f]{64})?")
_FROM = re.compile(r"^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE | re.MULTILINE)


def shared_spec() -> Path:
    """Where the team's shared copy of the schema is (it may not exist: a clean clone has none)."""
    default = REPO_ROOT.parent / "shared" / "conformance" / "compose" / "compose-spec.json"
    return Path(os.environ.get("PMX_COMPOSE_SPEC") or default)


def load(name: str) -> dict[str, Any]:
    """One compose file of ``deploy/``, parsed (YAML anchors and merge keys resolved)."""
    return yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft7Validator  # the schema is draft-07

    schema = json.loads(FIXTURE.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def schema_errors(document: dict[str, Any]) -> list[str]:
    """How a parsed compose file breaks the Compose Specification, one ``path: message`` per error."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]


def _bind_source(volume: Any) -> str | None:
    """The host path of a bind mount (short ``./x:/y`` or long ``{type: bind, source: ...}`` syntax)."""
    if isinstance(volume, dict):
        return str(volume["source"]) if volume.get("type") == "bind" else None
    source = str(volume).split(":", 1)[0]
    return source if source.startswith((".", "/", "~")) else None  # else a named volume


def host_files(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(where, path)`` of every host file or folder the compose file refers to, relative to ``deploy/``."""
    for name, service in document.get("services", {}).items():
        for volume in service.get("volumes", []):
            source = _bind_source(volume)
            if source is not None:
                yield f"services.{name}.volumes", source
        env_files = service.get("env_file", [])
        for entry in [env_files] if isinstance(env_files, str) else env_files:
            yield f"services.{name}.env_file", entry["path"] if isinstance(entry, dict) else entry
        build = service.get("build")
        if isinstance(build, dict):
            context = build.get("context", ".")
            yield f"services.{name}.build.context", context
            yield f"services.{name}.build.dockerfile", str(Path(context) / build.get("dockerfile", "Dockerfile"))
        elif isinstance(build, str):
            yield f"services.{name}.build", build
    for section in ("secrets", "configs"):
        for name, spec in (document.get(section) or {}).items():
            if "file" in spec:
                yield f"{section}.{name}.file", spec["file"]


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def interpolated(text: str) -> set[str]:
    """The variables Compose would substitute in one value (``$$`` escapes are not variables)."""
    return {braced or bare for braced, bare in _INTERPOLATION.findall(text) if braced or bare}


def variables(document: dict[str, Any]) -> set[str]:
    """Every variable interpolated anywhere in a parsed compose file (values only: comments are not parsed)."""
    return {name for text in _strings(document) for name in interpolated(text)}


def images(document: dict[str, Any]) -> dict[str, str]:
    """``service -> image`` of the services that pull their image (a service that builds names its own)."""
    return {name: service["image"] for name, service in document.get("services", {}).items()
            if "image" in service and "build" not in service}


def base_images(dockerfile: Path) -> list[str]:
    """The images a Dockerfile's ``FROM`` lines pull (an earlier stage's name is not an image)."""
    stages: set[str] = set()
    pulled: list[str] = []
    for image, alias in _FROM.findall(dockerfile.read_text(encoding="utf-8")):
        if image not in stages:
            pulled.append(image)
        if alias:
            stages.add(alias)
    return pulled


def is_pinned(image: str) -> bool:
    """Whether an image reference carries a full version tag (``major.minor[.patch]``)."""
    return _PINNED.fullmatch(image) is not None


def rendered_env() -> dict[str, str]:
    """``deploy/airflow.compose.env`` as rendered now (``python -m local_stack.compose``), as a mapping."""
    from local_stack import compose

    return dict(line.split("=", 1) for line in compose.render().splitlines() if line and not line.startswith("#"))
