"""Run inputs: resolved once (explicit > given environment > config), passed on, never written to os.environ."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portfolio.params import ParameterError
from portfolio.run_inputs import default_inputs, resolve_run_inputs
from portfolio.run_scope import bound, current


def test_explicit_values_win_over_the_given_environment(pmx_home: Path) -> None:
    environ = {"CRON_TICKERS": "NVDA", "CRON_EXEC_MODE": "auto", "PORTFOLIO_DB_PATH": "env.db"}
    inputs = resolve_run_inputs({"tickers": "jpm", "database_path": "given.db"}, environ=environ)
    assert inputs.params.tickers == ["JPM"] and inputs.params.mode == "auto"
    assert inputs.database_path == "given.db" and inputs.tickers_given


def test_the_process_environment_is_only_read_when_given(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRON_TICKERS", "NVDA")
    assert default_inputs().params.tickers == ["AAPL", "MSFT", "GOOGL"]
    assert not default_inputs().tickers_given
    assert resolve_run_inputs(environ=os.environ).params.tickers == ["NVDA"]


def test_bad_values_name_the_parameter(pmx_home: Path) -> None:
    with pytest.raises(ParameterError, match="execution_mode='paper'"):
        resolve_run_inputs({"execution_mode": "paper"}, environ={})


def test_secrets_stay_out_of_the_repr_and_reach_the_domain_only_while_bound(pmx_home: Path) -> None:
    from portfolio.database_manager import default_db_path
    from portfolio.secret_loader import get_secret

    before = dict(os.environ)
    inputs = resolve_run_inputs({"database_path": "data/other.db"}, environ={},
                                secrets={"FINNHUB_API_KEY": "s3cr3t-value"})
    assert "s3cr3t-value" not in repr(inputs)
    with bound(inputs):
        assert current() is inputs
        assert get_secret("FINNHUB_API_KEY") == "s3cr3t-value"
        assert default_db_path() == (pmx_home / "data" / "other.db").resolve()
    assert current() is None and get_secret("FINNHUB_API_KEY") is None
    assert dict(os.environ) == before


def test_for_tickers_narrows_the_universe(pmx_home: Path) -> None:
    inputs = default_inputs(core=True)
    assert inputs.params.tickers == ["AAPL", "MSFT"]
    assert inputs.for_tickers("msft").params.tickers == ["MSFT"]
