"""Load and validate a statsd_exporter mapping file (same YAML format, same defaults, same refusals).

Deviation, on purpose: unknown keys and histogram buckets that are not strictly increasing are refused
at load time (statsd_exporter v0.30.0 ignores the former and panics on the first observation for the latter).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from monitoring.statsd_bridge import config_fields as fields
from monitoring.statsd_bridge.config_model import (
    DEFAULT_BUCKETS,
    DEFAULT_QUANTILES,
    GLOB_RE,
    LABEL_NAME_RE,
    METRIC_NAME_RE,
    Defaults,
    MapperConfig,
    Mapping,
    MappingConfigError,
    SummaryOptions,
)

_MAPPING_KEYS = frozenset(
    (
        "match",
        "name",
        "labels",
        "observer_type",
        "timer_type",
        "buckets",
        "quantiles",
        "match_type",
        "help",
        "action",
        "match_metric_type",
        "ttl",
        "summary_options",
        "histogram_options",
        "scale",
        "honor_labels",
    )
)
_DEFAULT_KEYS = frozenset(
    (
        "observer_type",
        "timer_type",
        "buckets",
        "quantiles",
        "match_type",
        "glob_disable_ordering",
        "ttl",
        "summary_options",
        "histogram_options",
    )
)


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader (libyaml when available) that refuses duplicate keys, as Go's yaml.v2 does."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_config(text: str, source: str = "<mapping>") -> MapperConfig:
    """Parse and validate mapping YAML; :class:`MappingConfigError` names ``source`` and the problem."""
    try:
        raw = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise MappingConfigError(f"{source}: invalid YAML: {exc}") from None
    try:
        return _build(raw)
    except MappingConfigError as exc:
        raise MappingConfigError(f"{source}: {exc}") from None


def _build(raw: Any) -> MapperConfig:
    if raw is None:
        raw = {}
    fields.require_dict(raw, "top level")
    fields.check_keys(raw, frozenset(("defaults", "mappings")), "top level")
    warnings: list[str] = []
    defaults = _build_defaults(raw.get("defaults") or {}, warnings)
    entries = raw.get("mappings") or []
    if not isinstance(entries, list):
        raise MappingConfigError("'mappings' must be a list")
    mappings = [_build_mapping(i, entry, defaults, warnings) for i, entry in enumerate(entries)]
    return MapperConfig(defaults=defaults, mappings=mappings, warnings=warnings)


def _build_defaults(raw: Any, warnings: list[str]) -> Defaults:
    fields.require_dict(raw, "defaults")
    fields.check_keys(raw, _DEFAULT_KEYS, "defaults")
    observer = fields.enum(raw, "observer_type", "defaults") or fields.enum(raw, "timer_type", "defaults")
    summary = fields.summary(raw.get("summary_options"), "defaults.summary_options") or SummaryOptions()
    legacy_quantiles = fields.quantiles(raw.get("quantiles"), "defaults.quantiles")
    if not summary.quantiles and legacy_quantiles:
        warnings.append("defaults.quantiles is deprecated: use defaults.summary_options.quantiles")
        summary = SummaryOptions(quantiles=legacy_quantiles)
    buckets = fields.buckets(
        (raw.get("histogram_options") or {}).get("buckets"), "defaults.histogram_options"
    )
    legacy_buckets = fields.buckets(raw.get("buckets"), "defaults.buckets")
    if not buckets and legacy_buckets:
        warnings.append("defaults.buckets is deprecated: use defaults.histogram_options.buckets")
        buckets = legacy_buckets
    if not summary.quantiles:
        summary.quantiles = DEFAULT_QUANTILES
    ordering = raw.get("glob_disable_ordering", False)
    if not isinstance(ordering, bool):
        raise MappingConfigError(f"defaults.glob_disable_ordering: expected true/false, got {ordering!r}")
    return Defaults(
        observer_type=observer,
        match_type=fields.enum(raw, "match_type", "defaults") or "glob",
        glob_disable_ordering=ordering,
        ttl=fields.duration(raw.get("ttl"), "defaults.ttl"),
        buckets=buckets or DEFAULT_BUCKETS,
        summary=summary,
    )


def _build_mapping(index: int, raw: Any, defaults: Defaults, warnings: list[str]) -> Mapping:
    where = f"mappings[{index}]"
    fields.require_dict(raw, where)
    match = fields.text(raw.get("match"), f"{where}.match")
    where = f"mappings[{index}] (match {match!r})"
    fields.check_keys(raw, _MAPPING_KEYS, where)
    labels_raw = raw.get("labels") or {}
    fields.require_dict(labels_raw, f"{where}.labels")
    labels = {str(k): fields.text(v, f"{where}.labels.{k}") for k, v in labels_raw.items()}
    for key in labels:
        if not LABEL_NAME_RE.fullmatch(key):
            raise MappingConfigError(f"{where}: invalid label key: {key!r}")
    name = fields.text(raw.get("name"), f"{where}.name")
    if not name:
        raise MappingConfigError(f"{where}: metric mapping didn't set a metric name")
    if not METRIC_NAME_RE.fullmatch(name):
        raise MappingConfigError(f"{where}: metric name {name!r} is not a valid Prometheus name template")
    mapping = Mapping(
        index=index,
        match=match,
        name=name,
        labels=labels,
        match_type=fields.enum(raw, "match_type", where) or defaults.match_type,
        action=fields.enum(raw, "action", where) or "map",
        match_metric_type=fields.metric_type(raw.get("match_metric_type"), where),
        observer_type=fields.enum(raw, "observer_type", where) or fields.enum(raw, "timer_type", where),
        ttl=fields.duration(raw.get("ttl"), f"{where}.ttl"),
        help=fields.text(raw.get("help"), f"{where}.help"),
        honor_labels=fields.boolean(raw.get("honor_labels", False), f"{where}.honor_labels"),
    )
    if "scale" in raw:
        mapping.scale = fields.number(raw["scale"], f"{where}.scale")
    if mapping.match_type == "glob" and not GLOB_RE.fullmatch(match):
        raise MappingConfigError(f"{where}: invalid match: {match!r} (dot-separated names or '*')")
    if mapping.match_type == "regex":
        try:
            re.compile(match, re.ASCII)
        except re.error as exc:
            raise MappingConfigError(f"{where}: invalid regex {match!r}: {exc}") from None
    if not mapping.observer_type:
        mapping.observer_type = defaults.observer_type
    _observer_options(mapping, raw, defaults, where, warnings)
    if mapping.ttl == 0 and defaults.ttl > 0:
        mapping.ttl = defaults.ttl
    return mapping


def _observer_options(
    mapping: Mapping, raw: dict[str, Any], defaults: Defaults, where: str, warnings: list[str]
) -> None:
    summary_raw, histogram_raw = raw.get("summary_options"), raw.get("histogram_options")
    legacy_quantiles = fields.quantiles(raw.get("quantiles"), f"{where}.quantiles")
    legacy_buckets = fields.buckets(raw.get("buckets"), f"{where}.buckets")
    summary = fields.summary(summary_raw, f"{where}.summary_options")
    histogram_buckets = None
    if histogram_raw is not None:
        fields.require_dict(histogram_raw, f"{where}.histogram_options")
        fields.check_keys(histogram_raw, frozenset(("buckets",)), f"{where}.histogram_options")
        histogram_buckets = fields.buckets(histogram_raw.get("buckets"), f"{where}.histogram_options.buckets")
    if "quantiles" in raw:
        warnings.append(f"{where}: top-level quantiles are deprecated: use summary_options.quantiles")
        if summary is not None and summary.quantiles:
            raise MappingConfigError(
                f"{where}: cannot use quantiles in both the top level and summary options"
            )
    if "buckets" in raw:
        warnings.append(f"{where}: top-level buckets are deprecated: use histogram_options.buckets")
        if histogram_buckets:
            raise MappingConfigError(
                f"{where}: cannot use buckets in both the top level and histogram options"
            )
    if mapping.observer_type == "histogram":
        if summary_raw is not None:
            raise MappingConfigError(
                f"{where}: cannot use histogram observer and summary options at the same time"
            )
        mapping.buckets = legacy_buckets or histogram_buckets or defaults.buckets
    elif mapping.observer_type == "summary":
        if histogram_raw is not None:
            raise MappingConfigError(
                f"{where}: cannot use summary observer and histogram options at the same time"
            )
        summary = summary or SummaryOptions()
        base = defaults.summary
        mapping.summary = SummaryOptions(
            quantiles=legacy_quantiles or summary.quantiles or base.quantiles,
            max_age=summary.max_age or base.max_age,
            age_buckets=summary.age_buckets or base.age_buckets,
            buf_cap=summary.buf_cap or base.buf_cap,
        )
