"""Metric mapper: glob rules (a trie over dot segments) first, then regex rules, with an LRU cache."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from monitoring.statsd_bridge.config import load_config
from monitoring.statsd_bridge.config_model import Defaults, MapperConfig, Mapping
from monitoring.statsd_bridge.templates import Part, compile_template, expand


@dataclass(frozen=True, slots=True)
class MappingResult:
    """A matched mapping, with the expanded metric name and label values."""

    mapping: Mapping
    name: str
    labels: dict[str, str]


@dataclass(slots=True)
class _Rule:
    mapping: Mapping
    name: tuple[Part, ...]
    labels: tuple[tuple[str, tuple[Part, ...]], ...]
    regex: re.Pattern[str] | None = None

    def applies_to(self, metric_type: str) -> bool:
        wanted = self.mapping.match_metric_type
        return not wanted or wanted == metric_type

    def result(self, groups: list[str | None]) -> MappingResult:
        labels = {key: expand(parts, groups) for key, parts in self.labels}
        return MappingResult(self.mapping, expand(self.name, groups), labels)


class _Node:
    __slots__ = ("children", "rules", "star")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.star: _Node | None = None
        self.rules: list[_Rule] = []


def _compile_rule(mapping: Mapping) -> _Rule:
    regex = re.compile(mapping.match, re.ASCII) if mapping.match_type == "regex" else None
    names = dict(regex.groupindex) if regex is not None else {}
    labels = tuple((key, compile_template(value, names)) for key, value in mapping.labels.items())
    return _Rule(mapping, compile_template(mapping.name, names), labels, regex)


class MetricMapper:
    """Resolves a StatsD metric name and type to a :class:`MappingResult` (``None`` when nothing matches)."""

    def __init__(self, config: MapperConfig | None = None, cache_size: int = 1000) -> None:
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], MappingResult | None] = OrderedDict()
        self.cache_size = cache_size
        self.config = MapperConfig(defaults=Defaults(), mappings=[])
        self._root = _Node()
        self._regex_rules: list[_Rule] = []
        if config is not None:
            self.use_config(config)

    @classmethod
    def from_file(cls, path: str | Path, cache_size: int = 1000) -> MetricMapper:
        """Load a mapping file; :class:`MappingConfigError` names the file and the problem."""
        from monitoring.statsd_bridge.config_model import MappingConfigError

        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise MappingConfigError(f"{path}: cannot read mapping file: {exc.strerror}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise MappingConfigError(
                f"{path}: not valid UTF-8 at line {line} (byte 0x{raw[exc.start]:02x}: {exc.reason}); "
                "save the file as UTF-8"
            ) from None
        return cls(load_config(text, str(path)), cache_size)

    def load_yaml(self, text: str, source: str = "<mapping>") -> None:
        """Replace the configuration (and reset the cache); on error the old configuration stays."""
        self.use_config(load_config(text, source))

    def use_config(self, config: MapperConfig) -> None:
        """Install an already validated configuration."""
        root, regex_rules = _Node(), []
        for mapping in config.mappings:
            rule = _compile_rule(mapping)
            if mapping.match_type == "regex":
                regex_rules.append(rule)
                continue
            node = root
            for segment in mapping.match.split("."):
                if segment == "*":
                    node.star = node.star or _Node()
                    node = node.star
                else:
                    node = node.children.setdefault(segment, _Node())
            node.rules.append(rule)
        with self._lock:
            self.config, self._root, self._regex_rules = config, root, regex_rules
            self._cache.clear()

    @property
    def defaults(self) -> Defaults:
        """The ``defaults:`` section in force."""
        return self.config.defaults

    def get_mapping(self, name: str, metric_type: str, use_cache: bool = True) -> MappingResult | None:
        """Map ``name`` of ``metric_type`` (counter, gauge, observer): globs first, then regexes in order."""
        key = (name, metric_type)
        if use_cache:
            with self._lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return self._cache[key]
        result = self._match_glob(name, metric_type)
        if result is None:
            result = self._match_regex(name, metric_type)
        if use_cache and self.cache_size > 0:
            with self._lock:
                self._cache[key] = result
                if len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return result

    def _match_glob(self, name: str, metric_type: str) -> MappingResult | None:
        segments = name.split(".")
        captures: list[str | None] = [name]
        best: list[tuple[_Rule, list[str | None]]] = []
        first_wins = self.config.defaults.glob_disable_ordering

        def walk(node: _Node, depth: int) -> bool:
            if depth == len(segments):
                for rule in node.rules:
                    if rule.applies_to(metric_type):
                        if not best or rule.mapping.index < best[0][0].mapping.index:
                            best[:] = [(rule, list(captures))]
                        return first_wins
                return False
            child = node.children.get(segments[depth])
            if child is not None and walk(child, depth + 1):
                return True
            if node.star is not None:
                captures.append(segments[depth])
                stop = walk(node.star, depth + 1)
                captures.pop()
                return stop
            return False

        walk(self._root, 0)
        if not best:
            return None
        rule, groups = best[0]
        return rule.result(groups)

    def _match_regex(self, name: str, metric_type: str) -> MappingResult | None:
        for rule in self._regex_rules:
            assert rule.regex is not None
            match = rule.regex.search(name)
            if match is None or not rule.applies_to(metric_type):
                continue
            return rule.result([match.group(0), *match.groups()])
        return None
