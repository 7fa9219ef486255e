"""Verbs ``tuneloop monitor drift|ingest|evaluate|feedback|run|daemon``: parse, call one stage function
(:mod:`tuneloop.monitor.drift`, :mod:`.traffic`, :mod:`.online_eval`, :mod:`.feedback`, :mod:`.retrain`),
render, pick the exit code.

``monitor drift`` exits 1 when a segment's window drifted, so a scheduler (cron, Airflow, a Kubernetes
CronJob) can alert on the exit code; see docs/monitoring.md.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tuneloop.console import JsonFlag, console, err_console, format_error, print_json, stage_progress
from tuneloop.errors import InvalidInput, Location, TuneloopError

if TYPE_CHECKING:
    from tuneloop.monitor.drift import SegmentDrift
    from tuneloop.monitor.retrain import RetrainDecision

ModelArgument = Annotated[str, typer.Argument(help="The model whose traffic to check: name@alias or name:N.")]


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            "invalid_since", f"--since {value!r} is not an ISO 8601 time", Location(field="since")
        ) from None


def drift(
    model: ModelArgument,
    window: Annotated[
        str | None, typer.Option(help="Window ending now: 30m, 24h, 7d (default monitor.drift.window).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Window start (ISO 8601); overrides --window.")] = None,
    production: Annotated[
        Path | None, typer.Option(help="JSONL of chat requests served elsewhere, instead of the request log.")
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            help="Compare with this data file or dataset version (default: the version's training data)."
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Compare a window of production inputs (and answers) with the training data; exit 1 on drift."""
    from tuneloop.monitor.drift import drift as check_drift
    from tuneloop.project import Project

    segments = check_drift(
        Project.open(), model, window=window, since=_since(since), production_file=production,
        reference=reference, progress=stage_progress(quiet=json_output),
    )  # fmt: skip
    if json_output:
        print_json({"ok": True, "segments": [s.to_dict() for s in segments]})
    else:
        for segment in segments:
            _render(segment)
    if any(segment.drift for segment in segments):
        raise typer.Exit(1)


def _render(segment: SegmentDrift) -> None:
    who = segment.model_name + (f"@{segment.alias}" if segment.alias else "")
    console.print(f"[bold]{who}[/] {segment.version or ''}: {segment.n_production} production inputs "
                  f"from {segment.source}, reference {segment.reference}", markup=True)  # fmt: skip
    if segment.note:
        console.print(segment.note, markup=False)
    if segment.tests:
        table = Table(title="embedding tests")
        for column in ("method", "statistic", "threshold", "p-value", "sizes", "drift"):
            table.add_column(column)
        for test in segment.tests:
            table.add_row(
                test.method + (" (decides)" if test.method == segment.method else ""),
                f"{test.statistic_name} {test.statistic:.4g}", f"{test.threshold:.4g}", f"{test.p_value:.4g}",
                f"{test.n_reference} / {test.n_production}", "[red]yes[/]" if test.drift else "no",
            )  # fmt: skip
        console.print(table)
        console.print(f"descriptors that moved: {', '.join(segment.moved) or 'none'}", markup=False)
    if segment.novelty is not None:
        console.print(f"inputs without a close training neighbour: {segment.novelty.novel} "
                      f"({segment.novelty.share:.0%}) in {len(segment.novelty.clusters)} clusters", markup=False)  # fmt: skip
    state = segment.state
    console.print(
        f"drift state: {state.state} ({state.drifting_windows} drifting windows in a row)", markup=False
    )
    if segment.report_html:
        console.print(f"report: {segment.report_html}", markup=False)


def ingest(
    source: Annotated[
        Path, typer.Argument(help="JSONL of chat requests (optionally with responses and times).")
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Whose traffic it is: name@alias (rows may name their own).")
    ],
    json_output: JsonFlag = False,
) -> None:
    """Append logged requests served elsewhere to the request log, so `monitor drift` sees them."""
    from tuneloop.monitor.traffic import ingest as ingest_file
    from tuneloop.project import Project

    added, present = ingest_file(Project.open(), source, model=model)
    if json_output:
        print_json({"ok": True, "added": added, "already_present": present})
    else:
        console.print(
            f"added {added} requests to the request log ({present} were already there)", markup=False
        )


def evaluate(
    model: ModelArgument,
    window: Annotated[
        str | None, typer.Option(help="Window ending now (default monitor.evaluate.window).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Window start (ISO 8601); overrides --window.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Score a sample of logged answers with reference-free metrics; exit 1 when a metric dropped."""
    from tuneloop.monitor.online_eval import evaluate_online
    from tuneloop.project import Project

    results = evaluate_online(Project.open(), model, window=window, since=_since(since),
                              progress=stage_progress(quiet=json_output))  # fmt: skip
    if json_output:
        print_json({"ok": True, "versions": [r.to_dict() for r in results]})
    else:
        if not results:
            console.print(f"no logged answers of {model} in the window", markup=False)
        for result in results:
            table = Table(
                title=f"{result.version or model}: {result.n_scored} of {result.n_logged} logged answers scored"
            )
            for column in ("metric", "mean", "scored"):
                table.add_column(column)
            for name, summary in result.metrics.items():
                table.add_row(name, f"{summary.mean:.3f}", str(summary.count))
            console.print(table)
            for line in ([result.note] if result.note else []) + [a.describe() for a in result.alerts]:
                console.print(line, markup=False)
    if any(result.alerts for result in results):
        raise typer.Exit(1)


def feedback(
    name: Annotated[str, typer.Argument(help="The registered model name (support).")],
    curate: Annotated[
        bool,
        typer.Option("--curate", help="Turn corrected answers into a redacted, leak-free dataset version."),
    ] = False,
    since: Annotated[str | None, typer.Option(help="Only feedback given since (ISO 8601).")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Feedback per version (ratings, corrections); --curate makes training candidates of corrections."""
    from tuneloop.monitor.feedback import curate_feedback, feedback_summary
    from tuneloop.project import Project

    project = Project.open()
    summary = feedback_summary(project, name, since=_since(since))
    curation = (
        curate_feedback(project, name, since=_since(since), progress=stage_progress(quiet=json_output))
        if curate
        else None
    )
    if json_output:
        print_json({"ok": True, "versions": [s.to_dict() for s in summary],
                    "curation": curation.to_dict() if curation else None})  # fmt: skip
        return
    table = Table(title=f"feedback on {name}")
    for column in ("version", "responses", "rated", "mean rating", "corrected"):
        table.add_column(column)
    for row in summary:
        mean = f"{row.mean_rating:.2f}" if row.mean_rating is not None else "-"
        table.add_row(row.model_reference, str(row.responses), str(row.rated), mean, str(row.corrected))
    console.print(table)
    if curation is not None:
        dropped = ", ".join(f"{k} {v}" for k, v in curation.dropped.items()) or "none"
        version = curation.dataset_version
        where = (
            f"dataset version {version.id} ({version.name})"
            if version
            else "no dataset version (nothing kept)"
        )
        console.print(f"curated {curation.kept} of {curation.considered} corrected answers into {where}; "
                      f"{curation.redactions} PII spans redacted; dropped: {dropped}", markup=False)  # fmt: skip


def run(
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Check and decide, record nothing new, train nothing: show what would happen."
        ),
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Check drift, online quality and feedback; retrain when monitor.retrain says so (one shot, for cron)."""
    from tuneloop.monitor.retrain import monitor_run
    from tuneloop.project import Project

    decision = monitor_run(Project.open(), dry_run=dry_run, progress=stage_progress(quiet=json_output))
    if json_output:
        print_json({"ok": True, **decision.to_dict()})
        return
    _render_decision(decision)


def _render_decision(decision: RetrainDecision) -> None:
    table = Table(title=f"retraining policy for {decision.model} (serving {decision.serving})")
    for column in ("condition", "holds", "evidence"):
        table.add_column(column)
    for condition in decision.conditions:
        table.add_row(condition.condition, "[green]yes[/]" if condition.held else "no", condition.detail)
    console.print(table)
    groups = (
        " OR ".join("(" + " AND ".join(group) + ")" for group in decision.groups)
        or "no conditions configured"
    )
    console.print(f"fires when: {groups}", markup=False)
    verdicts = {
        "none": "no retraining: the policy did not fire",
        "would_retrain": "dry run: the policy fires; `tuneloop monitor run` would retrain now",
        "locked": f"another process is retraining ({decision.outcome.get('held_by')}); nothing started",
        "retrain": f"retrained: run {decision.run_name}, candidate {decision.candidate}, status {decision.status}",
    }
    console.print(verdicts[decision.action], markup=False)
    if decision.action == "retrain":
        promoted = decision.outcome.get("promoted")
        console.print(
            "promoted" if promoted else "not promoted (waiting for `tuneloop registry promote`)", markup=False
        )


def daemon(
    interval: Annotated[str, typer.Option(help="Time between runs: 30m, 1h, 1d.")] = "1h",
    json_output: JsonFlag = False,
) -> None:
    """Run `monitor run` every --interval until stopped (single-machine deployments)."""
    import signal
    import threading

    from tuneloop.config.monitor import duration_seconds
    from tuneloop.monitor.retrain import monitor_run
    from tuneloop.project import Project

    try:
        seconds = duration_seconds(interval)
    except ValueError as exc:
        raise InvalidInput("invalid_interval", str(exc), Location(field="interval")) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        try:
            decision = monitor_run(Project.open(), progress=stage_progress(quiet=json_output))
        except TuneloopError as err:
            # One failed round (nothing promoted yet, a store outage) must not end the daemon.
            err_console.print(
                f"monitor run failed: {format_error(err)}; next try in {interval}", markup=False
            )
        else:
            if json_output:
                print_json({"ok": True, **decision.to_dict()})
            else:
                _render_decision(decision)
        stop.wait(seconds)
