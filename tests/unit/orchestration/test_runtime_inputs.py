"""A task's run inputs: conf > Variable > CRON_* environment > config, secrets from Connections, no os.environ."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestration import runtime


@pytest.fixture
def variables(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values: dict[str, str] = {}
    monkeypatch.setattr(runtime, "_variable", lambda name: values.get(name) or None)
    monkeypatch.setattr(runtime, "connection_secrets", lambda: {"ALPHA_VANTAGE_API_KEY": "conn-secret"})
    return values


def test_conf_over_variable_over_environment(pmx_home: Path, variables: dict[str, str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRON_TICKERS", "NVDA")
    monkeypatch.setenv("CRON_EXEC_MODE", "auto")
    before = dict(os.environ)
    assert runtime.run_inputs({}).params.tickers == ["NVDA"]
    variables["portfolio.default_tickers"] = "JPM"
    inputs = runtime.run_inputs({})
    assert inputs.params.tickers == ["JPM"] and inputs.params.mode == "auto"
    assert runtime.run_inputs({"tickers": "AMD"}).params.tickers == ["AMD"]
    assert inputs.secret("ALPHA_VANTAGE_API_KEY") == "conn-secret"
    assert dict(os.environ) == before, "nothing is exported into the environment"


def test_lenient_inputs_keep_the_locations_when_a_parameter_is_bad(pmx_home: Path,
                                                                   variables: dict[str, str]) -> None:
    from portfolio.params import ParameterError

    variables["portfolio.database_path"] = "data/elsewhere.db"
    conf = {"start_date": "2999-01-01"}
    with pytest.raises(ParameterError):
        runtime.run_inputs(conf)
    inputs = runtime.run_inputs(conf, strict=False)
    assert inputs.database_path == "data/elsewhere.db" and inputs.secrets
