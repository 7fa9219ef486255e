"""The training report: the "did it learn" verdict, loss curves, throughput, settings with their
derivations, pre-flight findings, rendered examples and lineage, as one self-contained HTML file (plus
its JSON) in the artifacts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneloop.project import Project
from tuneloop.reports import Report, esc, line_chart, save_report
from tuneloop.train import run_records
from tuneloop.train.settings import TrainSettings
from tuneloop.train.verdict import Verdict

if TYPE_CHECKING:
    from tuneloop.train.pipeline import Prepared


def write_training_report(
    project: Project,
    run_name: str,
    settings: TrainSettings,
    prepared: Prepared,
    summary: dict[str, Any],
    lineage: dict[str, Any],
    model_version: str,
    *,
    verdict: Verdict | None = None,
) -> Path:
    """Render and store the report; returns the HTML's path (artifact store, and beside the run).
    ``verdict``: the run's :class:`~tuneloop.train.verdict.Verdict` (written again, with the primary
    metrics, once the post-training evaluation has run)."""
    info = run_records.get_run(project, run_name)
    series = run_records.metric_series(project, info.id)
    report = Report(
        f"Training run {run_name}", f"{settings.method} · {settings.adapter} · registered as {model_version}"
    )
    report.heading("Outcome")
    report.key_values(
        [
            ("model version", model_version),
            ("steps", summary["steps"]),
            ("final train loss", info.final_metrics.get("loss", "–")),
            ("final eval loss", info.final_metrics.get("eval_loss", "–")),
            ("tokens processed / trained", f"{summary['tokens']:,} / {summary['loss_tokens']:,}"),
            (
                "throughput",
                f"{summary['tokens_per_second']:,.0f} tokens/s ({summary['loss_tokens_per_second']:,.0f} trained tokens/s)",
            ),
            ("training time", f"{summary['train_seconds']:.0f} s"),
        ]
    )
    losses: dict[str, Sequence[tuple[float, float]]] = {
        name: [(float(s), v) for s, v in series[name]] for name in ("loss", "eval_loss") if name in series
    }
    report.raw(line_chart(losses, title="loss by optimizer step"))
    if verdict is not None:
        _verdict_section(report, verdict)
    for name, title in (
        ("learning_rate", "learning rate"),
        ("tokens_per_second", "tokens per second"),
        ("token_accuracy", "token accuracy"),
        ("reward_accuracy", "reward accuracy"),
    ):
        if name in series:
            report.raw(line_chart({name: [(float(s), v) for s, v in series[name]]}, title=title))
    report.heading("Settings")
    report.table(
        ["setting", "value", "derived from"],
        [
            [k, _short(v), settings.derived.get(k, "config")]
            for k, v in settings.to_dict().items()
            if k != "derived"
        ],
    )
    report.heading("Pre-flight")
    findings = prepared.preflight.findings
    if findings:
        report.table(
            ["severity", "code", "message"],
            [[f.severity, f.code, f.message] for f in findings],
            row_classes=[f.severity for f in findings],
        )
    else:
        report.paragraph("no findings", "ok")
    report.key_values(list(prepared.preflight.stats.items()))
    for example in prepared.preflight.examples:
        html = "".join(
            f'<b style="background:#e6f4ea">{esc(text)}</b>'
            if trained
            else f'<span class="muted">{esc(text)}</span>'
            for text, trained in example["segments"]
        )
        report.raw(
            f'<p class="muted">{esc(example["source"])} (trained tokens highlighted)</p><pre>{html}</pre>'
        )
    report.heading("Lineage")
    report.key_values([(k, _short(v)) for k, v in lineage.items() if k not in ("settings",)])
    data = {
        "run": run_name,
        "model_version": model_version,
        "summary": summary,
        "settings": settings.to_dict(),
        "preflight": prepared.preflight.to_dict(),
        "lineage": lineage,
        "metrics": series,
        "verdict": verdict.to_dict() if verdict is not None else None,
    }
    run_dir = Path(info.output_dir)
    save_report(
        project, "train-report", data, report.render(), name=f"train-{run_name}", copy_to=run_dir / "report"
    )
    return run_dir / "report.html"


VERDICT_CLASSES = {"learned": "ok", "undertrained": "warn", "overfit": "warn", "did_not_learn": "fail"}


def _verdict_section(report: Report, verdict: Any) -> None:
    """Did it learn? The status in a sentence, the findings and the primary metrics (the holdout curve
    is the ``eval_loss`` line of the loss chart above)."""
    report.heading("Did it learn?")
    report.paragraph(verdict.headline, VERDICT_CLASSES.get(verdict.status, ""))
    if verdict.findings:
        report.table(
            ["severity", "code", "finding"],
            [[f.severity, f.code, f.message] for f in verdict.findings],
            row_classes=[f.severity for f in verdict.findings],
        )
    if verdict.primary:
        report.table(
            [
                "suite",
                "primary metric",
                "candidate",
                "foundation",
                "vs foundation",
                "fit target",
                "short of it",
            ],
            [
                [
                    p.suite,
                    p.metric,
                    _num(p.candidate),
                    _num(p.foundation),
                    f"{p.delta:+.3f} ({p.comparison}, p = {p.p_value:.3g})" if p.delta is not None else "–",
                    "–" if p.fit_target is None else f"{p.fit_target:g}",
                    "–" if p.gap is None else f"{p.gap:.3f}" + (" (far below)" if p.far_below_target else ""),
                ]
                for p in verdict.primary
            ],
        )


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."
