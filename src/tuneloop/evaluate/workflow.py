"""The evaluation verbs as stage functions, each doing its whole job, recording included.

``run`` (``tuneloop eval run``), ``score`` (``eval score``), ``baseline`` (``eval baseline``),
``gate`` (``eval gate``) and ``stored`` (``eval show``) evaluate, store the report as an artifact,
attach one result per candidate and return what they stored, so a script, a server and the CLI
calling them leave the same records behind. They report progress through ``progress`` and never print.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuneloop.errors import InvalidInput
from tuneloop.evaluate.defaults import default_suite_references
from tuneloop.evaluate.evaluations import (
    RecordedRun,
    get_evaluation,
    load_report,
    readable_report,
    record_run,
)
from tuneloop.evaluate.fitcheck import FitCheck, run_fit_check
from tuneloop.evaluate.metrics import parse_metric_options
from tuneloop.evaluate.report import render_html, report_data
from tuneloop.evaluate.runner import run_suite
from tuneloop.evaluate.score_file import adhoc_suite, score_files
from tuneloop.evaluate.suites import load_suite
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.registry import EvaluationInfo, attach_result
from tuneloop.reports import save_report
from tuneloop.store import atomic_write_text


def run(
    project: Project,
    suite: str,
    models: list[str],
    *,
    baselines: list[str] | None = None,
    automatic_baselines: bool = True,
    use_cache: bool | None = None,
    limit: int | None = None,
    copy_to: Path | None = None,
    progress: Progress = SILENT,
) -> RecordedRun:
    """Evaluate ``models`` on ``suite`` against their baselines and record the result (kind ``eval``);
    ``copy_to`` also writes the report to ``copy_to``.json/.html."""
    result = run_suite(
        project,
        suite,
        models,
        baselines=baselines or [],
        automatic_baselines=automatic_baselines,
        use_cache=use_cache,
        limit=limit,
        progress=progress,
    )
    return record_run(project, result, kind="eval", copy_to=copy_to)


@dataclass
class ScoredOutputs:
    """What :func:`score` produced: the report, where its HTML lies, the evaluations it recorded."""

    data: dict[str, Any]
    html_file: Path
    evaluation_ids: list[int]

    @property
    def passed(self) -> bool | None:
        return self.data["passed"]


def score(
    project: Project | None,
    outputs: Path,
    *,
    suite: str | None = None,
    metric: str | None = None,
    metric_options: dict[str, Any] | None = None,
    baseline_outputs: Path | None = None,
    copy_to: Path | None = None,
) -> ScoredOutputs:
    """Score answers produced elsewhere with a suite's metrics or one ``metric`` (and its options).

    Inside a project the result is recorded (kind ``eval-score``); outside one the report is written
    to ``copy_to`` (default ``<outputs>-scores``) .json/.html.
    """
    if (suite is None) == (metric is None):
        raise InvalidInput("usage", "give exactly one of --suite and --metric")
    if metric is not None:
        try:
            spec = parse_metric_options({"name": metric, **(metric_options or {})})
        except Exception as exc:  # pydantic's message names the bad option
            if isinstance(exc, InvalidInput):
                raise
            raise InvalidInput("invalid_option", f"metric '{metric}': {exc}") from None
        result = score_files(
            project,
            adhoc_suite(spec, outputs),
            outputs,
            baseline_outputs=baseline_outputs,
            use_suite_items=False,
        )
    else:
        loaded = load_suite(str(suite), project)
        result = score_files(project, loaded, outputs, baseline_outputs=baseline_outputs)
    if project is not None:
        recorded = record_run(project, result, kind="eval-score", copy_to=copy_to)
        return ScoredOutputs(recorded.data, recorded.html_file, [e.id for e in recorded.evaluations])
    data = report_data(result)
    data["kind"] = "eval-score"
    target = copy_to or outputs.with_name(outputs.stem + "-scores")
    atomic_write_text(target.with_suffix(".json"), json.dumps(data, indent=2, ensure_ascii=False))
    atomic_write_text(target.with_suffix(".html"), render_html(data))
    return ScoredOutputs(data, target.with_suffix(".html"), [])


@dataclass
class RecordedFitCheck:
    """What :func:`baseline` stored: the fit check, its evaluation row and a readable report."""

    check: FitCheck
    suite: str
    evaluation: EvaluationInfo
    html_file: Path


def baseline(
    project: Project,
    suite: str,
    *,
    few_shot: list[int] | None = None,
    model: str | None = None,
    target: float | None = None,
    limit: int | None = None,
    use_cache: bool | None = None,
    progress: Progress = SILENT,
) -> RecordedFitCheck:
    """Fit check before training (zero-shot plus ``few_shot`` shot counts), recorded as ``fit-check``."""
    loaded = load_suite(suite, project)
    shots = sorted({0, *few_shot}) if few_shot else None
    check = run_fit_check(
        project,
        loaded,
        model=model,
        shots=shots,
        target=target,
        limit=limit,
        use_cache=use_cache,
        progress=progress,
    )
    data = report_data(check.run) | {"kind": "fit-check", "fit_check": check.to_dict()}
    name = f"fit-check-{loaded.suite.name}"
    readable = project.state_dir / "reports" / f"{name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    saved = save_report(project, "eval", data, render_html(data), name=name, copy_to=readable)
    info = attach_result(
        project,
        kind="fit-check",
        model_reference=check.model,
        suite=loaded.suite.name,
        summary=check.to_dict(),
        passed=None,
        report_json_sha256=saved.json_sha256,
        report_html_sha256=saved.html_sha256,
    )
    return RecordedFitCheck(check, loaded.suite.name, info, readable.with_suffix(".html"))


@dataclass
class GateOutcome:
    """What :func:`gate` recorded: one run per suite and the candidate's gate decisions (as in the
    reports' JSON)."""

    model: str
    runs: list[RecordedRun] = field(default_factory=list)

    @property
    def gates(self) -> list[dict[str, Any]]:
        return [g for run in self.runs for g in run.data["gates"] if g["candidate"] == self.model]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [g for g in self.gates if g["status"] == "failed"]

    @property
    def passed(self) -> bool:
        return not self.failed


def gate(
    project: Project,
    model: str,
    *,
    suites: list[str] | None = None,
    limit: int | None = None,
    use_cache: bool | None = None,
    progress: Progress = SILENT,
) -> GateOutcome:
    """Apply the regression gates of ``suites`` (default: the project's default suites) to ``model``;
    each suite's run is recorded as kind ``gate`` (promotion reads those)."""
    references = suites or default_suite_references(project)
    if not references:
        raise InvalidInput(
            "no_suites", "no suites to gate on: pass --suite or set eval.suites in tuneloop.yaml"
        )
    outcome = GateOutcome(model)
    for reference in references:
        result = run_suite(project, reference, [model], use_cache=use_cache, limit=limit, progress=progress)
        outcome.runs.append(record_run(project, result, kind="gate"))
    return outcome


@dataclass
class StoredEvaluation:
    """A stored evaluation with its report and a readable copy of the HTML."""

    info: EvaluationInfo
    data: dict[str, Any]
    html_file: Path


def stored(project: Project, evaluation_id: int) -> StoredEvaluation:
    """Evaluation ``evaluation_id`` (``eval show``)."""
    info = get_evaluation(project, evaluation_id)
    return StoredEvaluation(info, load_report(project, info), readable_report(project, info))
