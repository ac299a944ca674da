"""Small builders on top of grafana-foundation-sdk: the panel and variable shapes every dashboard uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import bargauge, dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders.common import StackingConfig
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.common import StackingMode
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
ALL = ".*"


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel."""

    expr: str
    legend: str = ""
    instant: bool = False


def _targets(queries: Sequence[Query]) -> list[cogbuilder.Builder[cogvariants.Dataquery]]:
    out: list[cogbuilder.Builder[cogvariants.Dataquery]] = []
    for index, query in enumerate(queries):
        target = prometheus.Dataquery().expr(query.expr).ref_id(chr(ord("A") + index)).datasource(DATASOURCE)
        if query.legend:
            target = target.legend_format(query.legend)
        out.append(target.instant() if query.instant else target.range())
    return out


def thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    """Absolute thresholds; the first step's value is ``None`` (minus infinity)."""
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


class DashboardBuilder:
    """A dashboard under construction: panels get sequential ids and auto-layout positions."""

    def __init__(self, uid: str, title: str, description: str, tags: Sequence[str]) -> None:
        self._next_id = 1
        self.board = (
            dashboard.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags(["pmx", *tags])
            .refresh("1m")
            .time("now-6h", "now")
            .timezone("utc")
            .editable()
            .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
            .annotation(
                dashboard.AnnotationQuery()
                .name("Firing alerts")
                .datasource(DATASOURCE)
                .expr('ALERTS{alertstate="firing"}')
                .enable(True)
                .icon_color("red")
            )
        )

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def variable(self, name: str, label: str, query: str) -> DashboardBuilder:
        """A multi-value query variable with an *All* option matching everything (``.*``)."""
        self.board = self.board.with_variable(
            dashboard.QueryVariable(name)
            .label(label)
            .datasource(DATASOURCE)
            .query(query)
            .multi(True)
            .include_all(True)
            .all_value(ALL)
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
            .current(VariableOption(selected=True, text=["All"], value=["$__all"]))
        )
        return self

    def custom_variable(self, name: str, label: str, values: Sequence[str]) -> DashboardBuilder:
        """A multi-value variable with a fixed list of values (and *All* = ``.*``)."""
        self.board = self.board.with_variable(
            dashboard.CustomVariable(name)
            .label(label)
            .values(",".join(values))
            .multi(True)
            .include_all(True)
            .all_value(ALL)
            .current(VariableOption(selected=True, text=["All"], value=["$__all"]))
        )
        return self

    def _panel(self, panel: Any, title: str, description: str, queries: Sequence[Query], height: int,
               width: int) -> Any:
        """What every panel has: id, title, description, datasource, targets, size."""
        return (
            panel.id(self._id())
            .title(title)
            .description(description)
            .datasource(DATASOURCE)
            .targets(_targets(queries))
            .height(height)
            .span(width)
        )

    def row(self, title: str) -> DashboardBuilder:
        """Start a new row."""
        self.board = self.board.with_row(dashboard.Row(title).id(self._id()))
        return self

    def timeseries(
        self,
        title: str,
        queries: Sequence[Query],
        unit: str = "short",
        description: str = "",
        width: int = 12,
        stacked: bool = False,
    ) -> DashboardBuilder:
        """A time-series panel."""
        panel = (
            self._panel(timeseries.Panel(), title, description, queries, height=8, width=width)
            .unit(unit)
            .fill_opacity(10 if not stacked else 40)
        )
        if stacked:
            panel = panel.stacking(StackingConfig().mode(StackingMode.NORMAL))
        self.board = self.board.with_panel(panel)
        return self

    def stat(
        self,
        title: str,
        query: Query,
        unit: str = "short",
        description: str = "",
        width: int = 6,
        steps: dashboard.ThresholdsConfig | None = None,
        mapping: dict[str, tuple[str, str]] | None = None,
    ) -> DashboardBuilder:
        """A single-value panel; ``mapping`` turns values into (text, colour)."""
        panel = self._panel(stat.Panel(), title, description, [query], height=5, width=width).unit(unit)
        if steps is not None:
            panel = panel.thresholds(steps)
        if mapping:
            panel = panel.mappings(
                [
                    ValueMap(
                        options={
                            value: ValueMappingResult(text=text, color=color, index=i)
                            for i, (value, (text, color)) in enumerate(mapping.items())
                        }
                    )
                ]
            )
        self.board = self.board.with_panel(panel)
        return self

    def bars(
        self,
        title: str,
        query: Query,
        unit: str = "short",
        description: str = "",
        width: int = 12,
        steps: dashboard.ThresholdsConfig | None = None,
    ) -> DashboardBuilder:
        """A bar gauge, one bar per series (instant query)."""
        panel = self._panel(bargauge.Panel(), title, description, [query], height=8, width=width).unit(unit)
        if steps is not None:
            panel = panel.thresholds(steps)
        self.board = self.board.with_panel(panel)
        return self

    def table(self, title: str, query: Query, description: str = "", width: int = 12) -> DashboardBuilder:
        """A table of an instant query (one row per series)."""
        panel = self._panel(table.Panel(), title, description, [query], height=8, width=width)
        self.board = self.board.with_panel(panel)
        return self

    def build(self) -> object:
        """The finished dashboard model (serialise with the SDK's JSONEncoder)."""
        return self.board.build()
