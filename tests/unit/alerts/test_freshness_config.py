"""The ``freshness:`` section of config/slas.yml: the shipped SLAs, and bad entries failing at load."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.freshness_check import load_freshness
from alerts.sla_config import load_sla_config
from foundation.config_loader import ConfigError
from foundation.paths import REPO_ROOT


@pytest.fixture(autouse=True)
def _fresh_caches(fresh_sla_caches: None) -> None:
    """Every test loads the SLA and alerting files anew."""


def _config(tmp: Path, edit: Any) -> Path:
    target = tmp / "config"
    shutil.copytree(REPO_ROOT / "config", target)
    data = yaml.safe_load((target / "slas.yml").read_text())
    edit(data)
    (target / "slas.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def _fresh(d: dict[str, Any], name: str) -> dict[str, Any]:
    return d["freshness"]["slas"][name]


def test_the_shipped_freshness_slas(pmx_home: Path) -> None:
    cfg = load_freshness()
    ohlcv, forecasts = cfg.by_name("ohlcv_daily"), cfg.by_name("forecasts_after_ohlcv")
    assert ohlcv is not None and forecasts is not None
    assert (ohlcv.asset, ohlcv.max_age, ohlcv.calendar, ohlcv.timezone) == (
        "portfolio_ohlcv", timedelta(hours=26), "XNYS", "America/New_York")
    assert (forecasts.asset, forecasts.newer_than, forecasts.grace) == (
        "portfolio_forecasts", "portfolio_ohlcv", timedelta(hours=2))
    runbook = (REPO_ROOT / "docs" / "slas.md").read_text()
    for spec in cfg.specs:
        assert f'<a id="{spec.runbook[1:]}"></a>' in runbook, spec.name


def test_no_section_means_no_freshness_slas(pmx_home: Path, tmp_path: Path) -> None:
    assert load_freshness(_config(tmp_path, lambda d: d.pop("freshness"))).specs == ()


def test_calendar_none_is_plain_age_in_utc(pmx_home: Path, tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["freshness"]["calendar"] = "none"
        d["freshness"].pop("timezone")

    spec = load_freshness(_config(tmp_path, edit)).by_name("ohlcv_daily")
    assert spec is not None and (spec.calendar, spec.timezone, spec.uses_calendar) == ("none", "UTC", False)


def test_a_per_sla_calendar_takes_the_calendars_zone(pmx_home: Path, tmp_path: Path) -> None:
    spec = load_freshness(_config(tmp_path, lambda d: _fresh(d, "ohlcv_daily").update(calendar="XLON"))
                          ).by_name("ohlcv_daily")
    assert spec is not None and (spec.calendar, spec.timezone) == ("XLON", "Europe/London")


BAD = [
    ("bad-duration", lambda d: _fresh(d, "ohlcv_daily").update(max_age="26 hours"),
     "freshness.slas.ohlcv_daily.max_age", "'26 hours'", "expected a duration"),
    ("zero-grace", lambda d: _fresh(d, "forecasts_after_ohlcv").update(grace="0s"),
     "freshness.slas.forecasts_after_ohlcv.grace", "'0s'", "must be positive"),
    ("both-rules", lambda d: _fresh(d, "ohlcv_daily").update(newer_than="portfolio_forecasts"),
     "freshness.slas.ohlcv_daily", "", "exactly one of `max_age`"),
    ("no-rule", lambda d: _fresh(d, "ohlcv_daily").pop("max_age"),
     "freshness.slas.ohlcv_daily", "", "exactly one of `max_age`"),
    ("grace-without-newer-than", lambda d: _fresh(d, "ohlcv_daily").update(grace="1h"),
     "freshness.slas.ohlcv_daily", "", "`grace` only applies"),
    ("follows-itself", lambda d: _fresh(d, "forecasts_after_ohlcv").update(newer_than="portfolio_forecasts"),
     "freshness.slas.forecasts_after_ohlcv", "", "names the asset itself"),
    ("unknown-channel", lambda d: _fresh(d, "ohlcv_daily").update(channels=["sms"]),
     "freshness.slas.ohlcv_daily.channels[0]", "'sms'", "unknown channel"),
    ("bad-timezone", lambda d: d["freshness"].update(timezone="America/NewYork"),
     "freshness.timezone", "'America/NewYork'", "unknown timezone"),
    ("typo-key", lambda d: _fresh(d, "ohlcv_daily").update(maxage="26h"),
     "freshness.slas.ohlcv_daily.maxage", "'26h'", "Extra inputs are not permitted"),
    ("name-of-a-run-sla", lambda d: d["freshness"]["slas"].update(daily_etl_ready=_fresh(d, "ohlcv_daily")),
     "freshness.slas.daily_etl_ready", "'daily_etl_ready'", "names are shared"),
    ("unknown-severity", lambda d: _fresh(d, "ohlcv_daily").update(severity="page"),
     "freshness.slas.ohlcv_daily.severity", "'page'", "Input should be"),
]


@pytest.mark.parametrize(("edit", "key", "value", "problem"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_entries_fail_when_slas_yml_is_loaded(pmx_home: Path, tmp_path: Path, edit: Any, key: str, value: str,
                                                  problem: str) -> None:
    directory = _config(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        load_sla_config(directory)
    message = str(err.value)
    assert str(directory / "slas.yml") in message
    assert f": {key}" in message and value in message and problem in message


@pytest.mark.parametrize(
    ("edit", "key", "value", "problem"),
    [
        pytest.param(lambda d: d["freshness"].update(calendar="XNYZ"), "freshness.slas.ohlcv_daily.calendar",
                     "'XNYZ'", "unknown exchange calendar 'XNYZ'", id="unknown-calendar"),
        pytest.param(lambda d: _fresh(d, "ohlcv_daily").update(timezone="Europe/Paris"),
                     "freshness.slas.ohlcv_daily.timezone", "'Europe/Paris'", "runs in America/New_York",
                     id="zone-other-than-the-calendars"),
    ],
)
def test_calendars_are_checked_when_the_freshness_checker_loads(pmx_home: Path, tmp_path: Path, edit: Any,
                                                                key: str, value: str, problem: str) -> None:
    directory = _config(tmp_path, edit)
    load_sla_config(directory)  # the DAG parser's load does not build calendars
    with pytest.raises(ConfigError) as err:
        load_freshness(directory)
    message = str(err.value)
    assert f": {key}" in message and value in message and problem in message
