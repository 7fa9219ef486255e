"""Monitoring reports (JSON for machines, a self-contained HTML page for people): the drift of one
window (tests with their thresholds, what moved, what is new, drift over time) and the online quality
of one window (scores, alerts, each metric over time)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tuneloop.reports import Report, save_report
from tuneloop.reports.html import bar_chart, line_chart

if TYPE_CHECKING:
    from tuneloop.monitor.drift import SegmentDrift
    from tuneloop.monitor.online_eval import OnlineEvaluation
    from tuneloop.project import Project
    from tuneloop.reports.store import SavedReport


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.0%}" for k, v in list(value.items())[:5])
    return str(value)


def render_drift(segment: SegmentDrift, history: list[dict[str, Any]]) -> str:
    """The HTML page of one window."""
    who = segment.model_name + (f"@{segment.alias}" if segment.alias else "")
    verdict = "too small to test" if segment.drift is None else ("DRIFT" if segment.drift else "no drift")
    report = Report(
        f"Drift: {who}", f"{segment.version or 'no version'} · {verdict} · state {segment.state.state}"
    )
    report.key_values([
        ("production", f"{segment.n_production} inputs from {segment.source}"),
        ("window", f"{segment.window_start or '-'} to {segment.window_end or '-'}"),
        ("reference", segment.reference),
        ("deciding test", segment.method),
        ("state", f"{segment.state.state} ({segment.state.drifting_windows} drifting windows in a row)"),
    ])  # fmt: skip
    if segment.note:
        report.paragraph(segment.note, "warn")
    if segment.tests:
        report.heading("Embedding tests (MiniLM)")
        report.table(
            ["method", "statistic", "value", "threshold", "p-value", "level", "sizes", "null", "drift"],
            [[t.method, t.statistic_name, _fmt(t.statistic), _fmt(t.threshold), _fmt(t.p_value), t.alpha,
              f"{t.n_reference} ref / {t.n_production} prod", t.null, "yes" if t.drift else "no"]
             for t in segment.tests],
        )  # fmt: skip
    descriptors = [*segment.inputs, *segment.outputs]
    if descriptors:
        report.heading("Descriptors")
        report.paragraph(
            f"Moved (Bonferroni over {len(descriptors)} tests): {', '.join(segment.moved) or 'none'}"
        )
        report.table(
            ["descriptor", "test", "reference", "production", "statistic", "p-value"],
            [[d.name, d.test, _fmt(d.reference), _fmt(d.production), _fmt(d.statistic), _fmt(d.p_value)]
             for d in descriptors],
        )  # fmt: skip
    if segment.novelty is not None and segment.novelty.clusters:
        novelty = segment.novelty
        report.heading(
            f"New in production: {novelty.novel} inputs ({novelty.share:.0%}) without a close training neighbour"
        )
        report.raw(bar_chart([f"cluster {i + 1}" for i in range(len(novelty.clusters))],
                             [c.size for c in novelty.clusters], title="novel inputs per cluster"))  # fmt: skip
        report.table(
            ["cluster", "inputs", "share", "words training never used", "examples"],
            [[i + 1, c.size, f"{c.share:.0%}", ", ".join(c.distinctive_words), " | ".join(c.examples)]
             for i, c in enumerate(novelty.clusters)],
        )  # fmt: skip
    points = [(float(i), float(h["p_value"])) for i, h in enumerate(history) if h["p_value"] is not None]
    if segment.deciding_test is not None:
        points.append((float(len(history)), segment.deciding_test.p_value))
    if len(points) > 1:
        report.heading("Over time")
        report.raw(
            line_chart({"p-value of the deciding test": points}, title="p-value per window (oldest first)")
        )
    return report.render()


def save_drift_report(project: Project, segment: SegmentDrift, history: list[dict[str, Any]]) -> SavedReport:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = f"drift-{segment.model_name}-{segment.alias or segment.version or 'all'}-{stamp}"
    readable = project.state_dir / "reports" / name
    return save_report(
        project, "drift", segment.to_dict(), render_drift(segment, history), name=name, copy_to=readable
    )


def _direction(higher_is_better: bool | None) -> str:
    return "-" if higher_is_better is None else ("higher" if higher_is_better else "lower")


def render_quality(result: OnlineEvaluation, history: list[dict[str, Any]]) -> str:
    """The HTML page of one online evaluation: this window's scores, alerts, and each metric over time."""
    who = result.model_name + (f"@{result.alias}" if result.alias else "")
    report = Report(
        f"Online quality: {who}", f"{result.version or 'no version'} · {len(result.alerts)} alerts"
    )
    report.key_values([("window", f"{result.window.start} to {result.window.end}"),
                       ("answers", f"{result.n_scored} scored of {result.n_logged} logged")])  # fmt: skip
    if result.note:
        report.paragraph(result.note, "warn")
    for alert in result.alerts:
        report.paragraph(alert.describe(), "bad")
    report.table(
        ["metric", "mean", "std", "scored", "better"],
        [[name, _fmt(m.mean), _fmt(m.std), m.count, _direction(m.higher_is_better)]
         for name, m in result.metrics.items()],
    )  # fmt: skip
    series = {
        name: [(float(i), float(h[name])) for i, h in enumerate([*history, {k: m.mean for k, m in result.metrics.items()}])
               if h.get(name) is not None]
        for name in result.metrics
    }  # fmt: skip
    if any(len(points) > 1 for points in series.values()):
        report.heading("Over time")
        report.raw(
            line_chart(
                {k: v for k, v in series.items() if len(v) > 1}, title="mean per window (oldest first)"
            )
        )
    return report.render()


def save_quality_report(
    project: Project, result: OnlineEvaluation, history: list[dict[str, Any]]
) -> SavedReport:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = f"online-{result.model_name}-{result.alias or result.version or 'all'}-{stamp}"
    readable = project.state_dir / "reports" / name
    return save_report(project, "online-eval", result.to_dict(), render_quality(result, history), name=name,
                       copy_to=readable)  # fmt: skip
