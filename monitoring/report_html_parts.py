"""Building blocks of the report's HTML: number formatting, tables, and plotly figures as ``<div>`` fragments."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

NO_DATA = '<p class="empty">no data yet</p>'
def fmt(value: Any, kind: str = "") -> str:
    """Human formatting: ``pct`` for fractions, ``usd`` for money, ``s`` for seconds; ``-`` for None."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return escape(str(value))
    if kind == "pct":
        return f"{100 * value:.2f}%"
    if kind == "usd":
        return f"{value:,.2f}"
    if kind == "s":
        return f"{value:.2f}s"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def table(headers: list[str], rows: list[list[Any]], kinds: list[str] | None = None) -> str:
    """An HTML table; cells are escaped and numbers formatted with ``kinds`` (one per column)."""
    if not rows:
        return NO_DATA
    kinds = kinds or [""] * len(headers)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{fmt(v, k)}</td>' if isinstance(v, (int, float)) and not isinstance(v, bool)
        else f"<td>{fmt(v, k)}</td>" for v, k in zip(row, kinds, strict=True)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class Plots:
    """Turns figures into ``<div>`` fragments; the first one carries the inlined plotly.js bundle."""

    def __init__(self, figures: dict[str, go.Figure]) -> None:
        self.figures = figures
        self.first = True

    def __call__(self, name: str) -> str:
        fig = self.figures.get(name)
        if fig is None:
            return ""
        import plotly.io as pio

        out = pio.to_html(fig, full_html=False, include_plotlyjs=self.first, include_mathjax=False,
                          div_id=f"fig-{name}", config={"displaylogo": False, "responsive": True})
        self.first = False
        return out
