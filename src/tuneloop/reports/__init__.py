"""Shared HTML rendering for every stage's report (self-contained files, inline SVG charts)."""

from tuneloop.reports.html import (
    Report,
    bar_chart,
    esc,
    heatmap,
    histogram,
    line_chart,
    scatter,
    status_class,
)
from tuneloop.reports.store import save_report

__all__ = [
    "Report",
    "bar_chart",
    "esc",
    "heatmap",
    "histogram",
    "line_chart",
    "save_report",
    "scatter",
    "status_class",
]
