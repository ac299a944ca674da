"""Load YAML config files into pydantic models, with environment overlays and errors naming file, key, value.

A config file ``config/<name>.yml`` may be overlaid by the section ``<name>:`` of
``config/environments/<PMX_ENV>.yml`` (``dev`` when unset). Overlays deep-merge over the base file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from foundation import paths
from foundation.redaction import redact

ENVIRONMENTS = ("dev", "staging", "prod")
M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for config models: unknown keys are errors, loaded values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigError(ValueError):
    """A configuration problem, naming the file, the key path and the offending value."""

    def __init__(self, file: Path | str, key: str, value: Any, problem: str) -> None:
        problem = redact(problem)
        self.file, self.key, self.value, self.problem = str(file), key, value, problem
        shown = redact(repr(value))  # a value may be a DSN or URL with a password in it
        if len(shown) > 120:
            shown = shown[:117] + "..."
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where} = {shown}: {problem}" if key else f"{where}: {problem}")


def current_env() -> str:
    """The active environment name from ``PMX_ENV`` (default ``dev``), validated."""
    env = os.environ.get("PMX_ENV", "dev").strip() or "dev"
    if env not in ENVIRONMENTS:
        raise ConfigError("PMX_ENV", "PMX_ENV", env, f"must be one of {', '.join(ENVIRONMENTS)}")
    return env


def utf8_problem(raw: bytes, exc: UnicodeDecodeError) -> str:
    """Where and why ``raw`` is not UTF-8, for a config error (line, column, the offending byte)."""
    line = raw.count(b"\n", 0, exc.start) + 1
    column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    return (f"not valid UTF-8 at line {line}, column {column} (byte 0x{raw[exc.start]:02x}: {exc.reason}); "
            "save the file as UTF-8")


def _undecodable_key(raw: bytes) -> tuple[str, Any]:
    """The key path (and value) holding the first undecodable byte, when the file still parses as YAML."""
    try:
        data = yaml.safe_load(raw.decode("utf-8", errors="replace"))
    except yaml.YAMLError:
        return "", None

    def walk(node: Any, loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any] | None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            if "\ufffd" in str(k) or (isinstance(v, str) and "\ufffd" in v):
                return (*loc, k), v
            if (found := walk(v, (*loc, k))) is not None:
                return found
        return None

    found = walk(data, ())
    return (_key_path(found[0]), found[1]) if found else ("", None)


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse one YAML file into a mapping; syntax errors name the file, line and column."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, "", None, "file not found") from None
    except OSError as exc:  # a directory, no permission, an I/O error
        raise ConfigError(path, "", None, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        key, value = _undecodable_key(raw)
        raise ConfigError(path, key, value, utf8_problem(raw, exc)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, "", None, f"invalid YAML at {where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, "<root>", type(data).__name__, "top level must be a mapping")
    return data


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``overlay`` merged in recursively (overlay wins; lists are replaced)."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _dig(data: Any, loc: tuple[Any, ...]) -> tuple[bool, Any]:
    for part in loc:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if in_dict or in_list:
            data = data[part]
        else:
            return False, None
    return True, data


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate(model: type[M], data: dict[str, Any], file: Path | str, overlay: dict[str, Any] | None = None,
             overlay_file: Path | str | None = None) -> M:
    """Validate ``data`` into ``model``; the first error becomes a :class:`ConfigError` naming its origin."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        origin: Path | str = file
        if overlay is not None and overlay_file is not None and _dig(overlay, loc)[0]:
            origin = overlay_file
        found, value = _dig(data, loc)
        message = err["msg"]
        if len(exc.errors()) > 1:
            message += f" (and {len(exc.errors()) - 1} more problem(s))"
        raise ConfigError(origin, _key_path(loc), value if found else "<missing>", message) from None


def load_config(model: type[M], name: str, *, config_dir: Path | None = None, env: str | None = None) -> M:
    """Load ``<config_dir>/<name>.yml`` plus the ``<name>`` section of the environment overlay."""
    directory = config_dir or paths.config_dir()
    base_file = directory / f"{name}.yml"
    data = read_yaml(base_file)
    env = env or current_env()
    overlay_file = directory / "environments" / f"{env}.yml"
    overlay: dict[str, Any] = {}
    if overlay_file.exists():
        section = read_yaml(overlay_file).get(name) or {}
        if not isinstance(section, dict):
            raise ConfigError(overlay_file, name, section, "overlay section must be a mapping")
        overlay = section
    return validate(model, deep_merge(data, overlay), base_file, overlay, overlay_file)


class CachedConfig(Generic[M]):
    """One config file's loader, cached per config directory and environment (``PMX_CONFIG_DIR``, ``PMX_ENV``).

    ``check`` runs once after validation (cross-field rules that need the file's path for their error).
    """

    def __init__(self, model: type[M], name: str, check: Callable[[M, Path], None] | None = None) -> None:
        self.model, self.name, self.check = model, name, check
        self._loaded: dict[tuple[str, str], M] = {}
        self._lock = threading.Lock()

    def load(self, config_dir: Path | None = None, env: str | None = None, *, fresh: bool = False) -> M:
        """The validated config (re-read when ``fresh``); errors are :class:`ConfigError`."""
        directory = (config_dir or paths.config_dir()).resolve()
        key = (str(directory), env or current_env())
        with self._lock:
            if fresh:
                self._loaded.clear()
            cfg = self._loaded.get(key)
        if cfg is None:
            cfg = load_config(self.model, self.name, config_dir=directory, env=key[1])
            if self.check is not None:
                self.check(cfg, directory / f"{self.name}.yml")
            with self._lock:
                self._loaded[key] = cfg
        return cfg

    def clear(self) -> None:
        """Forget every loaded copy (tests, config reloads)."""
        with self._lock:
            self._loaded.clear()


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env_flag(name: str) -> bool | None:
    """A true/false switch from the environment, ``None`` when unset; an unknown value is a :class:`ConfigError`."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(name, name, raw, "must be true or false")


def part_enabled(env_name: str, from_config: Callable[[], bool]) -> bool:
    """Whether a part is on: the environment switch wins, then its config file.

    An unreadable switch or config keeps the part on (the error is reported where the config is used): a typo
    never switches observability off silently.
    """
    try:
        switch = env_flag(env_name)
    except ConfigError:
        return True
    if switch is not None:
        return switch
    try:
        return from_config()
    except Exception:
        return True
