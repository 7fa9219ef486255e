"""The end of a completed run: register the trained weights as a model version with their lineage,
judge whether the run learned, write the training report, close the run record, and evaluate the
new candidate with the project's default suites.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.train import run_records
from tuneloop.train.inputs import RunInputs, template_sha256

if TYPE_CHECKING:
    from tuneloop.train.modeling import TrainableModel
    from tuneloop.train.pipeline import TrainResult
    from tuneloop.train.verdict import Verdict


def register_result(
    inputs: RunInputs,
    info: run_records.RunInfo,
    final_dir: Path,
    trained: TrainableModel,
    summary: dict[str, Any],
    environment: dict[str, Any],
    result: TrainResult,
) -> str:
    """Register the version, write the report and close the run record; returns the version's
    reference (``name:N``)."""
    from tuneloop.registry import register_model_version
    from tuneloop.train.report import write_training_report

    project, request, settings, data, choice = (
        inputs.project, inputs.request, inputs.settings, inputs.data, inputs.choice
    )  # fmt: skip
    tokenizer, prepared = inputs.tokenizer, inputs.prepared
    name = request.register_as or info.config.get("register_as") or project.config.project.name
    parent = choice.parent
    stage = {
        "run": info.name,
        "method": settings.method,
        "adapter": settings.adapter,
        "dataset_digest": data.dataset_digest,
    }
    lineage = {
        "run": info.name,
        "method": settings.method,
        "adapter": settings.adapter,
        "dataset_version_id": data.dataset_version_id,
        "dataset_digest": data.dataset_digest,
        "base_reference": choice.base_reference,
        "base_weights_sha256": choice.resolved.base_weights_sha256,
        "chat_template_sha256": template_sha256(tokenizer),
        "parent": parent.reference if parent else None,
        "settings": settings.to_dict(),
        "environment": environment.get("libraries", {}),
        "licence": choice.licence,
        "forced": info.forced,
        "force_reason": info.force_reason,
        "tag": request.tag or info.config.get("tag"),
        "stages": [*(parent.lineage.get("stages", []) if parent else []), stage],
        "trainable_parameters": trained.trainable_parameters,
    }
    version = register_model_version(
        project,
        name=name,
        kind=trained.kind,
        artifact_dir=final_dir,
        base_reference=choice.base_reference,
        base_weights_sha256=choice.resolved.base_weights_sha256,
        run_id=info.id,
        parent_version_id=parent.id if parent else None,
        lineage=lineage,
    )
    result.model_version, result.model_version_id = version.reference, version.id
    result.verdict = run_verdict(inputs, info, summary)
    saved = write_training_report(
        project, info.name, settings, prepared, summary, lineage, version.reference, verdict=result.verdict
    )
    result.report_html = str(saved)
    run_records.finish_run(
        project,
        info.name,
        "completed",
        summary={
            **summary,
            "model_version": version.reference,
            "report_html": str(saved),
            "verdict": result.verdict.to_dict() if result.verdict else None,
        },
    )
    return version.reference


def run_verdict(
    inputs: RunInputs, info: run_records.RunInfo, summary: dict[str, Any], evaluation: Any = None
) -> Verdict | None:
    """Did it learn? (:mod:`tuneloop.train.verdict`) from every stored metric of the run (a resumed
    run's history in the loop starts at the resume point), the early-stopping outcome and, once it has
    run, the post-training evaluation. A failure here is reported, never fails the trained run."""
    from tuneloop.train.verdict import training_verdict

    try:
        return training_verdict(
            run_records.metric_series(inputs.project, info.id),
            steps=summary["steps"],
            steps_per_epoch=inputs.plan.steps_per_epoch,
            evaluation=evaluation,
            fit_target=_fit_targets(inputs.project, evaluation),
            stopped_early=bool(summary.get("stopped_early")),
            best_step=summary.get("best_step"),
            kept_best=bool(summary.get("kept_best")),
        )
    except Exception as exc:  # the run is trained and registered; the verdict is commentary
        inputs.progress.info(f"could not judge the run ({type(exc).__name__}: {exc})")
        return None


def _fit_targets(project: Project, evaluation: Any) -> dict[str, float | None]:
    """Each evaluated suite's fit target (its own, else ``eval.fit_target``; none for built-in suites)."""
    from tuneloop.evaluate.gates import suite_fit_target
    from tuneloop.evaluate.suites import load_suite

    targets: dict[str, float | None] = {}
    for outcome in getattr(evaluation, "outcomes", None) or []:
        try:
            targets[outcome.suite] = suite_fit_target(load_suite(outcome.suite, project), project)
        except Exception:  # a suite that did not load is already reported as not run
            targets[outcome.suite] = None
    return targets


def judge_with_evaluation(
    inputs: RunInputs,
    info: run_records.RunInfo,
    summary: dict[str, Any],
    result: TrainResult,
    model_version: str,
) -> None:
    """The verdict again with the evaluation's primary metrics, into the run summary and the report."""
    from tuneloop.registry import get_model_version
    from tuneloop.train.report import write_training_report

    verdict = run_verdict(inputs, info, summary, result.evaluation)
    if verdict is None:
        return
    result.verdict = verdict
    run_records.update_summary(inputs.project, info.name, {"verdict": verdict.to_dict()})
    lineage = get_model_version(inputs.project, model_version).lineage
    write_training_report(inputs.project, info.name, inputs.settings, inputs.prepared, summary, lineage,
                          model_version, verdict=verdict)  # fmt: skip


def post_train_evaluation(project: Project, model_version: str, *, progress: Progress = SILENT) -> Any:
    """Run the project's default eval suites on the new candidate (the evaluation stage's hook).

    Skipped, with a note, when the project has no suites and no forgetting check; a failure inside
    the evaluation is reported and does not undo the training run."""
    evaluate = project.config.eval
    if not evaluate.suites and not evaluate.default_suites and not evaluate.forgetting_check:
        progress.info("no eval suites configured (eval.suites); skipping the post-training evaluation")
        return None
    from tuneloop.evaluate import run_default_suites

    try:
        outcome = run_default_suites(project, model_version, progress=progress)
    except Exception as exc:  # the candidate is registered; `tuneloop eval run` can evaluate it later
        progress.info(
            f"post-training evaluation failed ({type(exc).__name__}: {exc}); {model_version} is "
            "registered, evaluate it with `tuneloop eval run`"
        )
        return {"error": f"{type(exc).__name__}: {exc}"}
    return outcome
