"""The retraining pipeline ``monitor run`` starts when its policy fires.

previous training data + curated production examples -> a new dataset version (through the data gate,
as every training set) -> train (the project's own ``train`` settings) -> the evaluation gates against
the version in production -> the red-team gate -> registered candidate -> promotion only when the
policy asks for it and every gate passed (``tuneloop.deploy.promote`` re-checks them); otherwise the
candidate waits for a person. Each step updates the decision's record, so a crash leaves a trail, and
the training run is named after the decision so the next ``monitor run`` can resume it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneloop.data.records import Record
from tuneloop.errors import CheckFailed
from tuneloop.monitor.alerts import alert
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.registry import ModelVersionInfo, get_model_version
from tuneloop.train.training_loop import SimulatedCrash

if TYPE_CHECKING:
    from tuneloop.monitor.retrain import RetrainDecision

ACTOR = "tuneloop monitor"


def retrain(
    project: Project,
    decision: RetrainDecision,
    serving: ModelVersionInfo,
    curated: list[Record],
    *,
    progress: Progress = SILENT,
) -> None:
    """Run the pipeline for ``decision`` (recorded as ``running``); ends ``completed`` or ``failed``."""
    from tuneloop.monitor.retrain import update_decision

    policy = project.config.monitor.retrain
    resuming = decision.run_name is not None
    decision.run_name = decision.run_name or f"retrain-{serving.name}-{decision.decision_id}"
    decision.status = "running"
    update_decision(project, decision)
    decision.alerts.append(alert("retrain_started", decision.model, {"decision": decision.decision_id,
                                 "run": decision.run_name, "resuming": resuming, "new_examples": len(curated)},
                                 webhook_url=policy.webhook_url))  # fmt: skip
    try:
        if decision.dataset_version_id is None:  # a resumed retraining keeps the data it started with
            _dataset(project, decision, serving, curated, progress)
            update_decision(project, decision)
        candidate = _train(project, decision, resuming, progress)
        decision.candidate = candidate.reference
        update_decision(project, decision)
        passed = _gates(project, decision, candidate, progress)
        if passed and policy.promote != "none":
            _promote(project, decision, candidate, policy.promote, progress)
        elif not passed:
            decision.alerts.append(alert("gate_failed", decision.model, {"candidate": candidate.reference,
                                         "gates": decision.outcome.get("gates")}, webhook_url=policy.webhook_url))  # fmt: skip
        decision.status = "completed"
        update_decision(project, decision, finished=True)
        decision.alerts.append(alert("retrain_finished", decision.model, {"candidate": candidate.reference,
                                     "promoted": decision.outcome.get("promoted", False)},
                                     webhook_url=policy.webhook_url))  # fmt: skip
    except SimulatedCrash:
        raise  # tests: like kill -9, the decision stays "running" for the next run to resume
    except Exception as exc:
        decision.status = "failed"
        decision.outcome["error"] = f"{type(exc).__name__}: {exc}"
        update_decision(project, decision, finished=True)
        decision.alerts.append(alert("retrain_failed", decision.model, {"error": decision.outcome["error"]},
                                     webhook_url=policy.webhook_url))  # fmt: skip
        raise


def _dataset(
    project: Project,
    decision: RetrainDecision,
    serving: ModelVersionInfo,
    curated: list[Record],
    progress: Progress,
) -> None:
    """The serving version's training data plus the curated examples, checked by the data stage and
    registered as the decision's dataset version (named after it); a failed data gate stops the
    retraining."""
    from tuneloop.data.check import check_dataset
    from tuneloop.data.load import loaded_from_records
    from tuneloop.data.versions import get_dataset_version, load_dataset_version_records

    parts = []
    trained_id = serving.lineage.get("dataset_version_id")
    if trained_id is not None:
        trained = get_dataset_version(project, str(trained_id))
        label = f"dataset {trained.id} ({trained.name}, {serving.reference}'s training data)"
        parts.append((label, load_dataset_version_records(project, trained)))
    parts.append((f"{len(curated)} curated production examples (request_log)", curated))
    config = project.config
    result = check_dataset(
        project,
        [],
        loaded=loaded_from_records(parts),
        holdout=[project.resolve_path(p) for p in config.data.holdout] or None,
        name=f"retrain-{serving.name}-{decision.decision_id}",
        progress=progress,
    )
    version = result.dataset_version
    assert version is not None  # registered: the check ran with a project
    errors = [f"{f.check}: {f.message}" for f in result.findings if f.severity == "error"]
    decision.dataset_version_id = version.id
    decision.outcome["dataset"] = {"version": version.id, "records": version.num_records,
                                   "from": [label for label, _ in parts], "gate_passed": result.gate_passed,
                                   "errors": errors}  # fmt: skip
    if not result.gate_passed:
        raise CheckFailed(
            "retrain_data_gate_failed",
            f"the retraining data (dataset version {version.id}) failed the data gate: {'; '.join(errors)}. "
            f"See `tuneloop data show {version.id}`; fix the curated examples or train by hand with --force",
        )


def _train(
    project: Project, decision: RetrainDecision, resuming: bool, progress: Progress
) -> ModelVersionInfo:
    """Train on the decision's dataset version (resuming its run when one was started)."""
    from tuneloop.train import TrainRequest, train

    run_name = decision.run_name or f"retrain-{decision.decision_id}"
    data = str(decision.dataset_version_id)
    if resuming and _run_exists(project, run_name):
        request = TrainRequest(dataset_version=data, resume=run_name)
    else:
        request = TrainRequest(
            dataset_version=data, run_name=run_name, tag=f"retrain decision {decision.decision_id}"
        )
    result = train(project, request, progress=progress)
    decision.outcome["training"] = {
        "status": result.status,
        "run": result.run_name,
        "metrics": result.metrics,
    }
    if result.status != "completed" or result.model_version is None:
        raise CheckFailed("retrain_incomplete", f"the retraining run {result.run_name} ended {result.status}")
    return get_model_version(project, result.model_version)


def _run_exists(project: Project, run_name: str) -> bool:
    from tuneloop.errors import NotFound
    from tuneloop.train import get_run

    try:
        get_run(project, run_name, with_metrics=False)
    except NotFound:
        return False
    return True


def _gates(
    project: Project, decision: RetrainDecision, candidate: ModelVersionInfo, progress: Progress
) -> bool:
    """The evaluation gates (against production, recorded as ``gate`` results) and the red-team gate."""
    from tuneloop.evaluate.workflow import gate as eval_gate
    from tuneloop.redteam.campaign import RunOptions
    from tuneloop.redteam.campaign import gate as redteam_gate

    gates: dict[str, object] = {}
    passed = True
    if project.config.eval.suites:
        outcome = eval_gate(project, candidate.reference, progress=progress)
        gates["eval"] = {"passed": outcome.passed, "failed": [g.get("rule", g) for g in outcome.failed]}
        passed = passed and outcome.passed
    red = redteam_gate(project, RunOptions(model=candidate.reference), progress=progress)
    gates["redteam"] = {"passed": red.passed, "baseline": red.baseline}
    decision.outcome["gates"] = gates
    return passed and red.passed


def _promote(
    project: Project, decision: RetrainDecision, candidate: ModelVersionInfo, alias: str, progress: Progress
) -> None:
    from tuneloop.deploy import promote

    held = ", ".join(c.condition for c in decision.conditions if c.held)
    result = promote(project, candidate.reference, alias, reason=f"monitor run decision {decision.decision_id}: {held}",
                     actor=ACTOR, progress=progress)  # fmt: skip
    decision.outcome["promoted"] = result.promoted
    decision.outcome["promotion"] = {"alias": alias, "checks": [c.to_dict() for c in result.checks]}
