"""Secrets from the process environment and a ``.env`` file, registered for redaction and never logged.

The ``.env`` file is ``PMX_ENV_FILE`` or ``<project home>/.env``; the process environment wins over the file.
Every value this module hands out, and every value of a secret-looking key in the file (``*_KEY``,
``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``...), is registered with
:func:`foundation.redaction.register_secret`, so it is masked in JSON events, errors and alert payloads.
Plain settings in the file (``PMX_ENV=prod``) are not registered: masking "prod" everywhere would garble logs.
The file is never copied into ``os.environ``.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from foundation import paths
from foundation.redaction import register_secret

API_KEY_NAMES: tuple[str, ...] = ("ALPHA_VANTAGE_API_KEY", "FINNHUB_API_KEY")
KNOWN_SECRET_NAMES: tuple[str, ...] = (*API_KEY_NAMES, "USERNAME_CTRADER", "PASSWORD_CTRADER")
_SECRET_KEY = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|USERNAME)", re.I)
_LINE = re.compile(r"^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*$")
_lock = threading.Lock()
_cache: dict[str, tuple[float, int, dict[str, str]]] = {}


class SecretFileError(ValueError):
    """The ``.env`` file cannot be parsed; names the file and line (never the value)."""


def env_file_path() -> Path:
    """The ``.env`` file in use: ``PMX_ENV_FILE`` or ``<project home>/.env``."""
    override = os.environ.get("PMX_ENV_FILE")
    return paths.resolve(override) if override else paths.project_home() / ".env"


def _unquote(raw: str, path: Path, number: int) -> str:
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = raw.find(quote, 1)
        if end < 0:
            raise SecretFileError(f"{path}: line {number}: unterminated {quote} quote")
        value = raw[1:end]
        return value.replace("\\n", "\n") if quote == '"' else value
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()  # unquoted: an inline comment starts at " #"


def parse_env_file(path: Path) -> dict[str, str]:
    """Parse ``KEY=value`` lines (``export``, quotes, comments allowed); a missing file is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise SecretFileError(f"{path}: line {number}: expected KEY=value")
        values[match["key"]] = _unquote(match["value"], path, number)
    return values


def is_secret_name(name: str) -> bool:
    """Whether a variable name looks like it holds a credential."""
    return name in KNOWN_SECRET_NAMES or bool(_SECRET_KEY.search(name))


def load_env_file(path: Path | None = None) -> dict[str, str]:
    """The ``.env`` values (cached until the file changes); secret-looking values are registered."""
    path = path or env_file_path()
    try:
        stat = path.stat()
        stamp: tuple[float, int] = (stat.st_mtime, stat.st_size)
    except FileNotFoundError:
        return {}
    key = str(path)
    with _lock:
        cached = _cache.get(key)
        if cached and (cached[0], cached[1]) == stamp:
            return dict(cached[2])
    values = parse_env_file(path)
    for name, value in values.items():
        if is_secret_name(name):
            register_secret(value)
    with _lock:
        _cache[key] = (stamp[0], stamp[1], values)
    return dict(values)


def get_secret(name: str, default: str | None = None) -> str | None:
    """``name`` from the environment, else the run's secrets (:mod:`portfolio.run_scope`: Airflow Connections),
    else the file named by ``<name>_FILE`` (Docker secrets), else ``.env``, else ``default``; registered for
    redaction."""
    from portfolio.run_scope import current

    value = os.environ.get(name)
    inputs = current()
    if value in (None, "") and inputs is not None:
        value = inputs.secret(name)
    if value in (None, "") and os.environ.get(f"{name}_FILE"):
        try:
            value = Path(os.environ[f"{name}_FILE"]).read_text(encoding="utf-8").strip()
        except OSError:
            value = None
    if value in (None, ""):
        value = load_env_file().get(name)
    if value in (None, ""):
        value = default
    register_secret(value)
    return value


def api_keys() -> dict[str, str | None]:
    """The data-source API keys (``None`` when absent)."""
    return {name: get_secret(name) for name in API_KEY_NAMES}


def secrets_status(names: tuple[str, ...] = KNOWN_SECRET_NAMES) -> dict[str, bool]:
    """Which secrets are present (``True``/``False``), for reports: never the values."""
    return {name: bool(get_secret(name)) for name in names}


def clear_cache() -> None:
    """Forget parsed ``.env`` files (tests, long-lived processes)."""
    with _lock:
        _cache.clear()
