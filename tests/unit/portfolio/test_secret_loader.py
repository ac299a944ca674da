from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from foundation.pipeline_logger import get_logger
from foundation.redaction import redact
from portfolio import secret_loader

ENV_TEXT = """
# data-source keys
export ALPHA_VANTAGE_API_KEY="av-secret-0001"
FINNHUB_API_KEY=fh-secret-0002   # inline comment
PMX_ENV=prod
QUOTED='single # not a comment'
EMPTY=
"""


def test_parse_env_file_handles_export_quotes_and_comments(pmx_home: Path) -> None:
    path = pmx_home / ".env"
    path.write_text(ENV_TEXT)
    values = secret_loader.parse_env_file(path)
    assert values == {"ALPHA_VANTAGE_API_KEY": "av-secret-0001", "FINNHUB_API_KEY": "fh-secret-0002",
                      "PMX_ENV": "prod", "QUOTED": "single # not a comment", "EMPTY": ""}


def test_missing_file_is_empty(pmx_home: Path) -> None:
    assert secret_loader.load_env_file() == {}
    assert secret_loader.get_secret("ALPHA_VANTAGE_API_KEY") is None
    assert secret_loader.secrets_status()["ALPHA_VANTAGE_API_KEY"] is False


def test_process_environment_wins_over_env_file(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (pmx_home / ".env").write_text(ENV_TEXT)
    assert secret_loader.get_secret("FINNHUB_API_KEY") == "fh-secret-0002"
    monkeypatch.setenv("FINNHUB_API_KEY", "from-process-env")
    assert secret_loader.get_secret("FINNHUB_API_KEY") == "from-process-env"
    assert "FINNHUB_API_KEY" not in os.environ or os.environ["FINNHUB_API_KEY"] == "from-process-env"
    assert "ALPHA_VANTAGE_API_KEY" not in os.environ, "the .env file is never copied into os.environ"


def test_pmx_env_file_points_elsewhere(pmx_home: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere.env"
    other.write_text("ALPHA_VANTAGE_API_KEY=elsewhere-key-9\n")
    monkeypatch.setenv("PMX_ENV_FILE", str(other))
    assert secret_loader.env_file_path() == other
    assert secret_loader.api_keys() == {"ALPHA_VANTAGE_API_KEY": "elsewhere-key-9", "FINNHUB_API_KEY": None}


def test_changed_file_is_reread(pmx_home: Path) -> None:
    path = pmx_home / ".env"
    path.write_text("FINNHUB_API_KEY=first-value-1\n")
    assert secret_loader.get_secret("FINNHUB_API_KEY") == "first-value-1"
    path.write_text("FINNHUB_API_KEY=second-value-22\n")
    later = time.time() + 5
    os.utime(path, (later, later))
    assert secret_loader.get_secret("FINNHUB_API_KEY") == "second-value-22"


def test_secret_values_are_registered_but_plain_settings_are_not(pmx_home: Path) -> None:
    (pmx_home / ".env").write_text(ENV_TEXT)
    secret_loader.load_env_file()
    assert redact("key av-secret-0001 and fh-secret-0002") == "key *** and ***"
    assert redact("environment prod") == "environment prod"


def test_status_reports_presence_never_values(pmx_home: Path) -> None:
    (pmx_home / ".env").write_text(ENV_TEXT)
    status = secret_loader.secrets_status()
    assert status["ALPHA_VANTAGE_API_KEY"] is True and status["PASSWORD_CTRADER"] is False
    assert "av-secret-0001" not in repr(status)


def test_malformed_line_names_file_and_line_not_value(pmx_home: Path) -> None:
    (pmx_home / ".env").write_text("OK=1\nALPHA_VANTAGE_API_KEY av-secret-broken\n")
    with pytest.raises(secret_loader.SecretFileError, match=r"\.env: line 2: expected KEY=value") as info:
        secret_loader.load_env_file()
    assert "av-secret-broken" not in str(info.value)


def test_loaded_secret_never_reaches_the_event_log(pmx_home: Path) -> None:
    (pmx_home / ".env").write_text(ENV_TEXT)
    key = secret_loader.get_secret("ALPHA_VANTAGE_API_KEY")
    get_logger("test").log_event("probe", detail=f"calling https://x/query?symbol=A&token={key}", raw=key)
    text = (pmx_home / "logs" / "pipeline" / "events.jsonl").read_text()
    assert "probe" in text and "av-secret-0001" not in text


def test_secret_from_a_docker_secret_file(pmx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from foundation.redaction import redact
    from portfolio.secret_loader import get_secret

    secret_file = pmx_home / "finnhub_api_key"
    secret_file.write_text("fh-file-secret-123\n")
    monkeypatch.setenv("FINNHUB_API_KEY_FILE", str(secret_file))
    assert get_secret("FINNHUB_API_KEY") == "fh-file-secret-123"
    assert redact("key fh-file-secret-123") == "key ***"
