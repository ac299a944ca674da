"""``etl_batches`` of config/orchestration.yml: how daily_etl cuts the run's tickers into batch tasks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from foundation.paths import REPO_ROOT
from orchestration.config import TickerBatches


def _tickers(n: int) -> list[str]:
    return [f"T{i:03d}" for i in range(n)]


@pytest.mark.parametrize(("count", "sizes"), [
    pytest.param(0, [], id="none"),
    pytest.param(1, [1], id="one"),
    pytest.param(3, [3], id="min-size-keeps-one-batch"),
    pytest.param(10, [3, 3, 2, 2], id="10-tickers-4-batches"),
    pytest.param(50, [13, 13, 12, 12], id="50-tickers-max-batches"),
    pytest.param(500, [25] * 20, id="500-tickers-max-size"),
])
def test_the_shipped_split(count: int, sizes: list[int]) -> None:
    batches = TickerBatches(max_batches=4, min_batch_size=3, max_batch_size=25).split(_tickers(count))
    assert [len(b) for b in batches] == sizes
    assert [t for b in batches for t in b] == _tickers(count), "every ticker once, in order"


def test_the_shipped_config_is_what_the_split_tests_use() -> None:
    shipped = yaml.safe_load((REPO_ROOT / "config" / "orchestration.yml").read_text())["etl_batches"]
    assert {k: shipped[k] for k in ("max_batches", "min_batch_size", "max_batch_size")} == {
        "max_batches": 4, "min_batch_size": 3, "max_batch_size": 25}
    assert shipped["threads"] >= 1


@pytest.mark.parametrize(("values", "message"), [
    pytest.param({"min_batch_size": 30, "max_batch_size": 25}, "min_batch_size=30 is above max_batch_size=25",
                 id="min-above-max"),
    pytest.param({"max_batches": 0}, "greater than or equal to 1", id="no-batches"),
    pytest.param({"threads": 0}, "greater than or equal to 1", id="no-threads"),
    pytest.param({"batch_size": 5}, "batch_size", id="unknown-key"),
])
def test_a_bad_setting_is_refused_naming_file_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      values: dict[str, int], message: str) -> None:
    from foundation.config_loader import ConfigError
    from orchestration.config import load_orchestration

    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    path = config / "orchestration.yml"
    data = yaml.safe_load(path.read_text())
    data["etl_batches"].update(values)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv("PMX_CONFIG_DIR", str(config))
    with pytest.raises(ConfigError, match=message) as info:
        load_orchestration()
    assert info.value.file == str(path) and "etl_batches" in str(info.value)


@pytest.mark.parametrize(("outcomes", "expected"), [
    pytest.param([{"tickers": ["A", "B"], "failed": {}}, {"tickers": ["C", "D"], "failed": {}}], [],
                 id="none-failed"),
    pytest.param([{"tickers": ["A", "B"], "failed": {"B": {}}}, {"tickers": ["C", "D"], "failed": {"C": {}}}],
                 ["B", "C"], id="failed-in-plan-order"),
    pytest.param([{"tickers": ["C", "D"], "failed": {}}], ["A", "B"], id="a-batch-left-no-result"),
    pytest.param([{"truncated": True, "keys": []}, {"tickers": ["C", "D"], "failed": {"D": {}}}], ["A", "B", "D"],
                 id="a-truncated-result-retries-its-batch"),
])
def test_failed_tickers_are_the_reported_failures_and_unreported_batches(outcomes: list[object],
                                                                         expected: list[str]) -> None:
    from orchestration.tasks import tickers_to_retry

    assert tickers_to_retry([["A", "B"], ["C", "D"]], outcomes) == expected


def test_more_batches_than_slots_when_asked() -> None:
    assert [len(b) for b in TickerBatches(max_batches=8).split(_tickers(50))] == [7, 7, 6, 6, 6, 6, 6, 6]
