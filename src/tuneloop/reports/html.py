"""Self-contained HTML reports: one file, inline CSS and SVG charts, no scripts from the network.

Every stage builds a :class:`Report` from sections (headings, key/value summaries, tables, charts)
and calls :meth:`Report.render`. Charts are plain SVG so reports open offline in any browser and can
be archived as artifacts.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d2330;padding:0 1rem}h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid
#dde;padding-bottom:.3rem}table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem;width:100%}
th,td{border:1px solid #dde;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f3f5fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#137333;font-weight:600}
.warn{color:#b06000;font-weight:600}.fail{color:#c5221f;font-weight:600}.muted{color:#667}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}pre{white-space:pre-wrap;
background:#f6f8fa;padding:.5rem;border-radius:4px;font-size:.85rem}details summary{cursor:pointer}
.chart{margin:.5rem 0}.filter{margin:.5rem 0}
"""

_FILTER_JS = """
function tlFilter(id, cls){document.querySelectorAll('#'+id+' tbody tr').forEach(function(r){
r.style.display=(!cls||r.classList.contains(cls))?'':'none';});}
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def status_class(status: str) -> str:
    """CSS class for a verdict word."""
    lowered = status.lower()
    if lowered in ("ok", "pass", "passed", "better", "clean", "allowed"):
        return "ok"
    if lowered in ("warn", "warning", "no significant difference"):
        return "warn"
    if lowered in ("fail", "failed", "worse", "error", "refused"):
        return "fail"
    return ""


@dataclass
class Report:
    """An HTML report built from sections, in order."""

    title: str
    subtitle: str = ""
    parts: list[str] = field(default_factory=list)
    uses_filter: bool = False

    def heading(self, text: str) -> Report:
        self.parts.append(f"<h2>{esc(text)}</h2>")
        return self

    def paragraph(self, text: str, css: str = "") -> Report:
        self.parts.append(f'<p class="{esc(css)}">{esc(text)}</p>')
        return self

    def key_values(self, items: Sequence[tuple[str, object]]) -> Report:
        cells = "".join(f"<div><b>{esc(k)}</b></div><div>{_cell(v)}</div>" for k, v in items)
        self.parts.append(f'<div class="kv">{cells}</div>')
        return self

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[object]],
        *,
        row_classes: Sequence[str] | None = None,
        table_id: str | None = None,
        filters: Sequence[tuple[str, str]] | None = None,
    ) -> Report:
        """A table; ``filters`` adds buttons (label, row class) that show only matching rows."""
        head = "".join(f"<th>{esc(h)}</th>" for h in headers)
        body = []
        for index, row in enumerate(rows):
            css = f' class="{esc(row_classes[index])}"' if row_classes else ""
            body.append(f"<tr{css}>" + "".join(_td(v) for v in row) + "</tr>")
        ident = f' id="{esc(table_id)}"' if table_id else ""
        buttons = ""
        if filters and table_id:
            self.uses_filter = True
            options = [("all", ""), *list(filters)]
            buttons = (
                '<div class="filter">'
                + " ".join(
                    f"<button onclick=\"tlFilter('{esc(table_id)}','{esc(cls)}')\">{esc(label)}</button>"
                    for label, cls in options
                )
                + "</div>"
            )
        self.parts.append(
            f"{buttons}<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
        return self

    def raw(self, fragment: str) -> Report:
        """Append an already-escaped fragment (e.g. an SVG chart from this module)."""
        self.parts.append(fragment)
        return self

    def details(self, summary: str, text: str) -> Report:
        self.parts.append(f"<details><summary>{esc(summary)}</summary><pre>{esc(text)}</pre></details>")
        return self

    def render(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        script = f"<script>{_FILTER_JS}</script>" if self.uses_filter else ""
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(self.title)}</title>'
            f"<style>{_CSS}</style>{script}</head><body><h1>{esc(self.title)}</h1>"
            f'<p class="muted">{esc(self.subtitle)} · generated {stamp} by tuneloop</p>'
            + "".join(self.parts)
            + "</body></html>"
        )


def _cell(value: object) -> str:
    if isinstance(value, float):
        return esc(f"{value:.4g}")
    text = str(value)
    css = status_class(text)
    return f'<span class="{css}">{esc(text)}</span>' if css else esc(text)


def _td(value: object) -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return f'<td class="num">{_cell(value)}</td>' if numeric else f"<td>{_cell(value)}</td>"


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str = "", width: int = 640,
              value_format: str = "{:.3g}", color: str = "#4c78a8") -> str:  # fmt: skip
    """Horizontal bars, one per label."""
    if not labels:
        return ""
    row, left = 22, min(260, 8 + 7 * max(len(str(label)) for label in labels))
    top = max((abs(v) for v in values), default=1.0) or 1.0
    height = row * len(labels) + 30
    parts = [f'<svg class="chart" width="{width}" height="{height}" role="img" aria-label="{esc(title)}">']
    parts.append(f'<text x="0" y="14" font-size="13" font-weight="600">{esc(title)}</text>')
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 24 + i * row
        length = (width - left - 70) * abs(value) / top
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" font-size="12" text-anchor="end">{esc(label)}</text>'
        )
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" fill="{color}"/>')
        parts.append(
            f'<text x="{left + length + 4:.1f}" y="{y + 14}" font-size="11">{esc(value_format.format(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def histogram(values: Sequence[float], *, bins: int = 30, title: str = "", width: int = 640, height: int = 180,
              marker: float | None = None, marker_label: str = "") -> str:  # fmt: skip
    """A histogram of ``values``; ``marker`` draws a vertical line (e.g. the max length)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if marker is not None:
        low, high = min(low, marker), max(high, marker)
    span = (high - low) or 1.0
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / span * bins))] += 1
    peak = max(counts) or 1
    plot_h, bar_w = height - 40, (width - 50) / bins
    parts = [f'<svg class="chart" width="{width}" height="{height}" role="img" aria-label="{esc(title)}">']
    parts.append(f'<text x="0" y="14" font-size="13" font-weight="600">{esc(title)}</text>')
    for i, count in enumerate(counts):
        h = plot_h * count / peak
        parts.append(
            f'<rect x="{40 + i * bar_w:.1f}" y="{20 + plot_h - h:.1f}" width="{max(bar_w - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="#4c78a8"><title>{count}</title></rect>'
        )
    parts.append(f'<text x="40" y="{height - 4}" font-size="11">{low:.4g}</text>')
    parts.append(
        f'<text x="{width - 10}" y="{height - 4}" font-size="11" text-anchor="end">{high:.4g}</text>'
    )
    parts.append(f'<text x="36" y="28" font-size="11" text-anchor="end">{peak}</text>')
    if marker is not None:
        x = 40 + (marker - low) / span * (width - 50)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="20" y2="{20 + plot_h}" stroke="#c5221f" stroke-dasharray="4"/>'
        )
        parts.append(f'<text x="{x + 3:.1f}" y="30" font-size="11" fill="#c5221f">{esc(marker_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(series: dict[str, Sequence[tuple[float, float]]], *, title: str = "", width: int = 640,
               height: int = 220) -> str:  # fmt: skip
    """Lines of (x, y) points, one per named series (e.g. train and eval loss over steps)."""
    points = [p for values in series.values() for p in values]
    if not points:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    xspan, yspan = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    plot_w, plot_h = width - 60, height - 50
    palette = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2"]
    parts = [f'<svg class="chart" width="{width}" height="{height}" role="img" aria-label="{esc(title)}">']
    parts.append(f'<text x="0" y="14" font-size="13" font-weight="600">{esc(title)}</text>')
    for i, (name, values) in enumerate(series.items()):
        color = palette[i % len(palette)]
        coords = " ".join(
            f"{50 + (x - x0) / xspan * plot_w:.1f},{25 + plot_h - (y - y0) / yspan * plot_h:.1f}"
            for x, y in values
        )
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{coords}"/>')
        parts.append(
            f'<text x="{60 + i * 120}" y="{height - 4}" font-size="11" fill="{color}">{esc(name)}</text>'
        )
    parts.append(f'<text x="46" y="30" font-size="11" text-anchor="end">{y1:.3g}</text>')
    parts.append(f'<text x="46" y="{25 + plot_h}" font-size="11" text-anchor="end">{y0:.3g}</text>')
    parts.append(f'<text x="50" y="{height - 16}" font-size="11">{x0:.4g}</text>')
    parts.append(f'<text x="{width - 10}" y="{height - 16}" font-size="11" text-anchor="end">{x1:.4g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def heatmap(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]], *,
            title: str = "", low: float = 0.0, high: float = 1.0, value_format: str = "{:.0%}") -> str:  # fmt: skip
    """A grid of coloured cells (white = ``low``, red = ``high``); None cells are grey."""
    cell_w, cell_h = 90, 26
    left = min(240, 10 + 7 * max((len(r) for r in rows), default=4))
    width, height = left + cell_w * len(columns) + 10, 46 + cell_h * len(rows)
    parts = [f'<svg class="chart" width="{width}" height="{height}" role="img" aria-label="{esc(title)}">']
    parts.append(f'<text x="0" y="14" font-size="13" font-weight="600">{esc(title)}</text>')
    for j, column in enumerate(columns):
        parts.append(
            f'<text x="{left + j * cell_w + cell_w / 2}" y="36" font-size="11" text-anchor="middle">{esc(column)}</text>'
        )
    span = (high - low) or 1.0
    for i, row in enumerate(rows):
        y = 42 + i * cell_h
        parts.append(f'<text x="{left - 6}" y="{y + 17}" font-size="12" text-anchor="end">{esc(row)}</text>')
        for j, value in enumerate(values[i]):
            x = left + j * cell_w
            if value is None or (isinstance(value, float) and math.isnan(value)):
                fill, label = "#e8e8ee", "–"
            else:
                t = max(0.0, min(1.0, (value - low) / span))
                fill = f"rgb(255,{int(255 - 180 * t)},{int(255 - 200 * t)})"
                label = value_format.format(value)
            parts.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}"/>')
            parts.append(
                f'<text x="{x + cell_w / 2}" y="{y + 17}" font-size="11" text-anchor="middle">{esc(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def scatter(points: Sequence[tuple[float, float]], *, labels: Sequence[int] | None = None, title: str = "",
            width: int = 520, height: int = 360) -> str:  # fmt: skip
    """A 2-D scatter (e.g. an embedding cluster map), coloured by integer label."""
    if not points:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    xspan, yspan = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    palette = [
        "#4c78a8",
        "#f58518",
        "#54a24b",
        "#e45756",
        "#72b7b2",
        "#b279a2",
        "#ff9da6",
        "#9d755d",
        "#bab0ac",
    ]
    parts = [f'<svg class="chart" width="{width}" height="{height}" role="img" aria-label="{esc(title)}">']
    parts.append(f'<text x="0" y="14" font-size="13" font-weight="600">{esc(title)}</text>')
    for index, (x, y) in enumerate(points):
        color = palette[(labels[index] if labels else 0) % len(palette)]
        cx, cy = 10 + (x - x0) / xspan * (width - 20), 24 + (1 - (y - y0) / yspan) * (height - 34)
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.5" fill="{color}" fill-opacity="0.7"/>')
    parts.append("</svg>")
    return "".join(parts)
