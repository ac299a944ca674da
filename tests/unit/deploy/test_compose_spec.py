"""The compose files are valid Compose files whose every reference resolves: the offline ``docker compose config``."""

from __future__ import annotations

import itertools
import re

import pytest

from tests.unit.deploy._compose import (
    COMPOSE_FILES,
    DEPLOY,
    FIXTURE,
    SECRETS_DIR,
    base_images,
    host_files,
    images,
    interpolated,
    is_pinned,
    load,
    schema_errors,
    shared_spec,
    variables,
)


def test_fixture_is_the_compose_specification_and_matches_the_shared_copy() -> None:
    """The fixture is the Compose Specification's schema; where the team's shared copy exists
    (``$PMX_COMPOSE_SPEC``, or ``../shared`` next to the checkout), it is byte-identical to it."""
    import json

    spec = json.loads(FIXTURE.read_text())
    assert (spec["$id"], spec["title"]) == ("compose_spec.json", "Compose Specification")
    shared = shared_spec()
    if shared.is_file():
        assert FIXTURE.read_bytes() == shared.read_bytes(), f"{FIXTURE} differs from {shared}: copy it over"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_file_follows_the_compose_specification(name: str) -> None:
    assert schema_errors(load(name)) == []


def test_the_schema_rejects_a_broken_file() -> None:
    """The validation bites: a misspelt service key and values of the wrong type are reported."""
    errors = schema_errors({"services": {"web": {"imgae": "nginx:1.27.0", "volumes": "data:/data"}},
                            "secrets": {"token": {"file": 1}}})
    assert len(errors) == 3, errors
    assert [e.split(":")[0] for e in errors] == ["secrets/token/file", "services/web", "services/web/volumes"]
    assert "'imgae'" in errors[1]


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_referenced_file_exists(name: str) -> None:
    """Bind mounts, env files, build context and Dockerfile, secret and config files exist in the repository;
    the git-ignored secrets are named in ``deploy/secrets/README.md`` instead."""
    readme = (SECRETS_DIR / "README.md").read_text(encoding="utf-8")
    missing, undocumented = [], []
    for where, source in host_files(load(name)):
        path = (DEPLOY / source).resolve()
        if path.parent == SECRETS_DIR:
            if f"`{path.name}`" not in readme:
                undocumented.append(f"{where}: {source}")
        elif not path.exists():
            missing.append(f"{where}: {source} (resolved: {path})")
    assert not missing, f"{name} refers to files that are not in the repository: {missing}"
    assert not undocumented, f"{name}: secrets not listed in deploy/secrets/README.md: {undocumented}"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_interpolated_variable_is_documented(name: str) -> None:
    """A ``${VAR}``/``$VAR`` of a compose file is in the variables table of ``deploy/README.md`` or in the compose
    file's header comment."""
    text = (DEPLOY / name).read_text(encoding="utf-8")
    header = "".join(itertools.takewhile(lambda line: line.startswith("#"), text.splitlines(keepends=True)))
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8").split("## Compose variables", 1)
    assert len(readme) == 2, "deploy/README.md has no '## Compose variables' section"
    documented = set(re.findall(r"`\$?\{?([A-Za-z_][A-Za-z0-9_]*)\}?`", readme[1] + header))
    undocumented = variables(load(name)) - documented
    assert not undocumented, f"{name} interpolates undocumented variables {sorted(undocumented)}: add them to " \
                             "the 'Compose variables' table of deploy/README.md"


def test_interpolation_is_parsed_like_compose() -> None:
    assert interpolated("${A} ${B:-x} ${C?needed} $D-$E_1 $$F $${G} $$$H") == {"A", "B", "C", "D", "E_1", "H"}
    assert interpolated('export P="$$(cat /run/secrets/p)"') == set()


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_pulled_image_is_pinned_to_a_full_version(name: str) -> None:
    floating = {service: image for service, image in images(load(name)).items() if not is_pinned(image)}
    assert not floating, f"{name}: images not pinned to major.minor[.patch]: {floating}"


def test_the_dockerfile_base_image_is_pinned() -> None:
    pulled = base_images(DEPLOY / "Dockerfile")
    assert pulled, "deploy/Dockerfile has no FROM line"
    assert all(map(is_pinned, pulled)), f"deploy/Dockerfile: base image not pinned to a full version: {pulled}"


@pytest.mark.parametrize(("image", "pinned"), [
    ("postgres:15.13", True), ("redis:7.4.2", True), ("prom/prometheus:v2.53.4", True),
    ("python:3.11.11-slim-bookworm", True), ("registry.local:5000/team/app:1.2", True),
    ("postgres:15", False), ("redis:7", False), ("python:3.11-slim", True), ("python:3-slim", False),
    ("grafana/grafana:latest", False), ("grafana/grafana", False),
])
def test_pinned_means_a_full_version_tag(image: str, pinned: bool) -> None:
    assert is_pinned(image) is pinned
