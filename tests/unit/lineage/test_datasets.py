"""The naming scheme: one namespace (configurable), path-like names, per ticker where it matters."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.config_loader import ConfigError
from lineage import datasets, settings
from portfolio.schema import MIGRATIONS


@pytest.mark.parametrize(("made", "name"), [
    pytest.param(lambda: datasets.market_data("yfinance", "aapl"), "market_data/yfinance/AAPL", id="provider-api"),
    pytest.param(lambda: datasets.market_data("synthetic", "MSFT"), "synthetic/MSFT", id="synthetic-source"),
    pytest.param(lambda: datasets.table("ohlcv"), "db/ohlcv", id="table"),
    pytest.param(lambda: datasets.table("quality_results"), "db/etl_runs", id="quality-results-alias"),
    pytest.param(lambda: datasets.table("equity"), "db/equity_snapshots", id="equity-alias"),
    pytest.param(lambda: datasets.checkpoints("etl"), "checkpoints/etl", id="checkpoints"),
    pytest.param(lambda: datasets.automation("transaction_costs.json"), "automation/transaction_costs.json",
                 id="automation-json"),
    pytest.param(lambda: datasets.report("performance_report.html"), "reports/performance_report.html",
                 id="report"),
    pytest.param(lambda: datasets.market_data("yfinance", "^GSPC"), "market_data/yfinance/^GSPC", id="index"),
])
def test_names(made: object, name: str) -> None:
    dataset = made()  # type: ignore[operator]
    assert dataset == datasets.DatasetName("portfolio_maximizer", name)


@pytest.mark.parametrize("bad", [pytest.param(lambda: datasets.table("nope"), id="unknown-table"),
                                 pytest.param(lambda: datasets.market_data("yf", "A/B"), id="slash-in-ticker"),
                                 pytest.param(lambda: datasets.automation("../x"), id="path-escape")])
def test_bad_parts_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        bad()  # type: ignore[operator]


def test_every_table_of_the_schema_is_named() -> None:
    """The add-on cannot import the domain: this test keeps its table list in step with portfolio/schema.py."""
    import re

    created = set(re.findall(r"CREATE TABLE (\w+)", "".join(MIGRATIONS)))
    assert created == set(datasets.TABLES)


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str | None) -> None:
    from foundation.paths import REPO_ROOT

    target = tmp_path / "config"
    target.mkdir()
    for file in (REPO_ROOT / "config").glob("*.yml"):
        if file.name != "lineage.yml":
            (target / file.name).write_text(file.read_text(encoding="utf-8"), encoding="utf-8")
    if text is not None:
        (target / "lineage.yml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("PMX_CONFIG_DIR", str(target))
    settings._cache.clear()
    settings._reported.clear()


def test_the_namespace_is_one_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _config(tmp_path, monkeypatch, "namespace: pm_prod\n")
    assert datasets.table("trades") == ("pm_prod", "db/trades")


def test_without_the_file_the_default_namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _config(tmp_path, monkeypatch, None)
    assert settings.dataset_namespace() == "portfolio_maximizer"


def test_a_bad_value_is_named_and_lineage_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    _config(tmp_path, monkeypatch, "namespace: 'has space'\n")
    with pytest.raises(ConfigError, match=r"lineage\.yml: namespace = 'has space'"):
        settings.load_lineage()
    assert settings.dataset_namespace() == "portfolio_maximizer"
    assert settings.dataset_namespace() == "portfolio_maximizer"
    assert sum("lineage config ignored" in r.getMessage() for r in caplog.records) == 1


def test_the_shipped_file_loads() -> None:
    assert settings.load_lineage(fresh=True).namespace == "portfolio_maximizer"
