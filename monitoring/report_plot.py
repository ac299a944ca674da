"""Plot helpers shared by the report's figure modules: date axes that read as dates, markers for short series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

STATE_COLOURS = {"success": "#2ca02c", "failed": "#d62728", "running": "#1f77b4", "queued": "#9467bd",
                 "up_for_retry": "#ff7f0e", "skipped": "#c7c7c7", "upstream_failed": "#8c564b"}
MARKER_POINTS = 60  # curves with this many points or fewer also draw a marker per point
MIN_SPAN = timedelta(days=1)  # a date axis around a lone point (or points closer than this) spans this


def to_datetime(value: Any) -> datetime | None:
    """An ISO-8601 text (``Z`` or offset; a bare date) as a naive UTC datetime for a plotly date axis."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def date_axis(fig: go.Figure, xs: list[datetime | None], *, min_span: timedelta = MIN_SPAN, **where: Any) -> None:
    """Make the x axis a date axis; one shorter than ``min_span`` is widened to it around its points, so that a
    lone point reads as a date and an hour (plotly's own range for it is a few milliseconds)."""
    fig.update_xaxes(type="date", **where)
    known = [x for x in xs if x is not None]
    if known and max(known) - min(known) < min_span:
        pad = (min_span - (max(known) - min(known))) / 2
        fig.update_xaxes(range=[min(known) - pad, max(known) + pad], **where)
        if min_span >= timedelta(hours=2):
            fig.update_xaxes(tickformat="%b %d %H:%M", **where)


def value_axis(fig: go.Figure, ys: list[float], *, rel: float = 0.01, **where: Any) -> None:
    """Give a y axis whose values are all equal (one point, a flat line) ``value * (1 +- rel)``: plotly's own range
    for it is a sliver with unreadable ticks."""
    if ys and max(ys) - min(ys) <= 1e-9 * max(abs(v) for v in ys):
        mid = ys[0]
        fig.update_yaxes(range=[mid - rel * abs(mid), mid + rel * abs(mid)] if mid else [-1, 1], **where)


def line_mode(n: int) -> str:
    """Lines, plus a marker per point for short series (a lone point draws no line)."""
    return "lines+markers" if n <= MARKER_POINTS else "lines"
