"""Charts as inline SVG: vector on paper, no charting library, no script.

Used by the briefing and the web dashboard.
"""

from __future__ import annotations

import html

from ecomap.maps import _style
from ecomap.schema import category_label

__all__ = ["bar_chart", "chart_legend"]


def bar_chart(rows: list[tuple[str, list[tuple[str, float]]]], colors: dict[str, str],
              *, width: int = 680, bar: int = 18, label_w: int = 150) -> str:
    """Horizontal (stacked) bars as inline SVG: ``[(label, [(series, value), …]), …]``."""
    top = max((sum(v for _, v in parts) for _, parts in rows), default=0.0) or 1.0
    plot_w = width - label_w - 90
    height = len(rows) * (bar + 8) + 10
    out = [f'<svg class="ecomap-chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img">']
    for i, (name, parts) in enumerate(rows):
        y = 5 + i * (bar + 8)
        out.append(f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end" '
                   f'font-size="12">{html.escape(name)}</text>')
        x = float(label_w)
        for series, value in parts:
            w = plot_w * value / top
            if w <= 0:
                continue
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" '
                       f'fill="{colors.get(series, "#607d8b")}"><title>{html.escape(series)}: '
                       f"{value:,.1f}</title></rect>")
            x += w
        total = sum(v for _, v in parts)
        out.append(f'<text x="{x + 5:.1f}" y="{y + bar - 5}" font-size="11" fill="#333">'
                   f"{total:,.0f}</text>")
    out.append("</svg>")
    return "".join(out)


def chart_legend(codes: list[str], lang: str) -> str:
    return '<div class="ecomap-chart-legend">' + "".join(
        f'<span><i style="background:{_style.category_color(c)}"></i>'
        f"{html.escape(category_label(c, lang))}</span>" for c in codes) + "</div>"
