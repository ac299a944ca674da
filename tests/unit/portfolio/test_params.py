from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from portfolio.params import ParameterError, parse_bool, parse_tickers, resolve


def test_defaults_come_from_config(pmx_home: Path) -> None:
    params = resolve(today=date(2026, 11, 25))
    assert params.tickers == ["AAPL", "MSFT", "GOOGL"]
    assert params.start == date(2020, 1, 1)
    assert params.end == date(2026, 11, 25)
    assert params.mode == "synthetic"
    assert resolve(core=True).tickers == ["AAPL", "MSFT"]


def test_cron_environment_overrides_config(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRON_TICKERS", "nvda, amd,NVDA")
    monkeypatch.setenv("CRON_START_DATE", "2024-01-02")
    monkeypatch.setenv("CRON_END_DATE", "2024-06-28")
    monkeypatch.setenv("CRON_EXEC_MODE", "auto")
    monkeypatch.setenv("ENABLE_GPU_PARALLEL", "1")
    params = resolve()
    assert params.tickers == ["NVDA", "AMD"]
    assert (params.start, params.end) == (date(2024, 1, 2), date(2024, 6, 28))
    assert params.mode == "auto"
    assert params.enable_gpu_parallel is True


def test_explicit_arguments_win_over_environment(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRON_TICKERS", "NVDA")
    assert resolve(tickers="JPM").tickers == ["JPM"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"tickers": "AAPL,$$$"}, "invalid ticker '\\$\\$\\$'", id="bad-ticker-format"),
        pytest.param({"tickers": " , "}, "no tickers", id="empty-ticker-list"),
        pytest.param({"start": "2024-05-01", "end": "2024-01-01"}, "is after end_date", id="start-after-end"),
        pytest.param({"start": "01/02/2024"}, "expected a date", id="bad-date-format"),
        pytest.param({"mode": "paper"}, "execution_mode='paper'", id="bad-mode"),
        pytest.param({"pipeline_device": "tpu"}, "pipeline_device='tpu'", id="bad-device"),
        pytest.param({"enable_gpu_parallel": "maybe"}, "ENABLE_GPU_PARALLEL='maybe'", id="bad-flag"),
    ],
)
def test_bad_parameters_are_named(pmx_home: Path, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        resolve(**kwargs)  # type: ignore[arg-type]


def test_parse_helpers() -> None:
    assert parse_tickers(["brk.b", "AAPL"]) == ["BRK.B", "AAPL"]
    assert parse_bool("x", "0") is False and parse_bool("x", "true") is True and parse_bool("x", None) is None
