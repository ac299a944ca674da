"""Secrets never reach listener output: Airflow's maskers, registered values and secret-looking pairs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foundation import redaction
from foundation.scrub import mask_all, scrub, scrub_bounded, scrub_data

SECRET = "Kx9-super-secret-value-77"


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> str:
    """A secret registered with the project's registry (restored afterwards)."""
    monkeypatch.setattr(redaction, "_secrets", frozenset())
    redaction.register_secret(SECRET)
    return SECRET


@pytest.mark.parametrize("module", ["airflow.sdk._shared.secrets_masker", "airflow._shared.secrets_masker"],
                         ids=["task-sdk-masker", "core-masker"])
def test_values_known_to_airflows_maskers_are_masked(module: str) -> None:
    import importlib

    masker = importlib.import_module(module)
    value = f"conn-password-{module.count('.')}-Zq81"
    masker.mask_secret(value)
    assert scrub(f"login refused with {value} for user svc") == "login refused with *** for user svc"


def test_registered_values_are_masked_without_any_key_word(registered: str) -> None:
    assert scrub(f"upstream said {registered}!") == "upstream said ***!"


@pytest.mark.parametrize(("text", "expected"), [
    ("retry with password=hunter22 now", "retry with password=*** now"),
    ('{"api_key": "abc123"}', '{"api_key": "***"}'),
    ("postgres://svc:pw1234@db:5432/x", "postgres://svc:***@db:5432/x"),
    ("nothing secret here", "nothing secret here"),
], ids=["pair", "json-pair", "url", "plain"])
def test_secret_looking_pairs_are_masked(text: str, expected: str) -> None:
    assert scrub(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcPASSWORDtoken=:_ -/@'\"x1")), max_size=80))
def test_scrub_never_does_less_than_the_project_redactor(text: str) -> None:
    assert scrub(text) == redaction.redact(text)


def test_bounded_text_is_cut_after_masking_so_no_partial_secret_leaks(registered: str) -> None:
    text = "x" * 95 + registered + "y" * 500
    out = scrub_bounded(text, 100)
    assert registered[:5] not in out and out.startswith("x" * 95 + "***")
    assert out.endswith("more characters]")


def test_huge_text_is_cut_before_scrubbing(registered: str) -> None:
    text = ("line\n" * 200_000) + registered
    out = scrub_bounded(text, 1000)
    assert len(out) < 1100 and registered not in out and "more characters" in out


@pytest.mark.parametrize("key", ["note_token", "password", "db_passwd", "API_KEY", "dsn", "webhook_url"])
def test_values_under_secret_looking_keys_are_masked_whatever_they_hold(key: str) -> None:
    assert scrub_data({key: "harmless-looking", "other": 7}) == {key: "***", "other": 7}
    assert scrub_data({"outer": {key: {"deep": ["a", 1]}}}) == {"outer": {key: {"deep": ["***", "***"]}}}


def test_scrub_data_scrubs_every_string_and_keeps_the_shape(registered: str) -> None:
    data = {"note": registered, "items": [f"x {registered}", "password=abc123", 3, None, True]}
    assert scrub_data(data) == {"note": "***", "items": ["x ***", "password=***", 3, None, True]}


def test_scrub_data_fails_closed_beyond_its_depth() -> None:
    deep: dict = {}
    node = deep
    for _ in range(40):
        node["n"] = {}
        node = node["n"]
    node["n"] = "plain"
    assert "plain" not in repr(scrub_data(deep))


def test_mask_all_keeps_keys_and_masks_every_leaf() -> None:
    assert mask_all({"a": "x", "b": [1, {"c": None}], "d": 2.5}) == {"a": "***", "b": ["***", {"c": None}],
                                                                     "d": "***"}
