"""``tuneloop.train.train``: one training run from config to a registered candidate version.

Order of work (each step can stop the run before compute is spent): settings -> base model (or parent
version) and its licence -> data through the data gate -> tokenize -> batch plan -> pre-flight ->
run record -> model -> (reference log-probs) -> resume point -> loop with checkpoints -> final
weights -> ``ModelVersion`` with lineage -> training report -> post-training evaluation.

The same function runs in every process of ``accelerate launch`` / ``torchrun``: the main process
does all store and file writes and shares what the others need (run name, data decisions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneloop.errors import CheckFailed, InvalidInput, Location, NotFound
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.store import sha256_bytes
from tuneloop.train import run_records
from tuneloop.train.batching import TrainingPlan
from tuneloop.train.distributed import on_main_process
from tuneloop.train.inputs import (
    BaseChoice,
    RunInputs,
    TrainingData,
    TrainRequest,
    chat_template_text,
    choose_base,
    effective_section,
    load_training_data,
)
from tuneloop.train.methods import get_method
from tuneloop.train.preflight import PreflightReport, preflight_lines
from tuneloop.train.settings import TrainSettings
from tuneloop.train.tokenize import TrainingItem
from tuneloop.train.verdict import Verdict


@dataclass
class TrainResult:
    """The outcome of :func:`train`."""

    status: str
    """``completed``, ``interrupted`` or ``dry-run``."""
    run_name: str | None
    model_version: str | None
    """The registered candidate (``name:N``) of a completed run."""
    model_version_id: int | None
    metrics: dict[str, float]
    preflight: PreflightReport
    settings: dict[str, Any]
    run_dir: Path | None = None
    report_html: str | None = None
    evaluation: Any = None
    """The post-training evaluation (:class:`tuneloop.evaluate.DefaultSuitesResult`), or ``{"error": ...}``."""
    verdict: Verdict | None = None
    """Did it learn? (:class:`tuneloop.train.verdict.Verdict`) of a completed run."""
    notes: list[str] = field(default_factory=list)
    is_main_process: bool = True
    """False in the other processes of a distributed run (only the main one prints and writes)."""

    def to_dict(self) -> dict[str, Any]:
        evaluation = self.evaluation.to_dict() if hasattr(self.evaluation, "to_dict") else self.evaluation
        return {
            "status": self.status,
            "run": self.run_name,
            "model_version": self.model_version,
            "metrics": self.metrics,
            "preflight": self.preflight.to_dict(),
            "settings": self.settings,
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "report_html": self.report_html,
            "evaluation": evaluation,
            "verdict": self.verdict.to_dict() if self.verdict is not None else None,
            "notes": self.notes,
        }


def train(
    project: Project, request: TrainRequest | None = None, *, progress: Progress = SILENT, **options: Any
) -> TrainResult:
    """Train, register and evaluate one candidate; options are :class:`TrainRequest` fields.

    ``progress`` receives the pre-flight, the training bar and the post-training evaluation's lines
    (from the main process of a distributed run only).

    Raises CheckFailed (licence refused, data gate or pre-flight failed, exit 1) and InvalidInput
    (bad settings or data, exit 2) before any training compute is spent.
    """
    return _run(project, request or TrainRequest(**options), progress)


def _run(project: Project, request: TrainRequest, progress: Progress) -> TrainResult:
    from accelerate import PartialState

    state = PartialState(cpu=not _cuda())
    progress = progress if state.is_main_process else SILENT
    resumed = on_main_process(state, lambda: _find_resume(project, request)) if request.resume else None
    if resumed is not None:
        request = _request_for_resume(request, resumed)
    section = effective_section(project, request)
    if resumed is not None:
        section = section.model_validate(resumed.config["section"])
    with state.main_process_first():
        choice = choose_base(project, section, progress=progress)
    from tuneloop.train.modeling import load_tokenizer_for_training

    tokenizer = load_tokenizer_for_training(choice.resolved, chat_template_text(project))
    settings = _settings(project, section, choice, state, resumed)
    max_length = settings.max_length
    data = on_main_process(
        state,
        lambda: load_training_data(
            project, request, tokenizer=tokenizer, max_length=max_length, progress=progress
        ),
        share=lambda main: main.for_workers(),
    )
    if not state.is_main_process:
        data = load_training_data(project, request, tokenizer=tokenizer, max_length=max_length, main=data)
    fingerprint = _fingerprint(section, data.dataset_digest, choice)
    if resumed is not None and resumed.config.get("fingerprint") != fingerprint:
        raise InvalidInput(
            "resume_mismatch",
            f"run '{resumed.name}' was trained on other data or settings; "
            "start a new run instead of resuming it",
            Location(field="--resume"),
        )
    prepared = prepare(project, settings, data, tokenizer, choice, world_size=state.num_processes)
    probe = _selection_probe(project, settings, choice, tokenizer, bool(prepared.eval_items), state)
    for line in preflight_lines(prepared.preflight, settings):
        progress.info(line)
    if not prepared.preflight.ok and (not request.force or prepared.plan is None):
        codes = ", ".join(f.code for f in prepared.preflight.findings if f.severity == "error")
        hint = (
            "nothing can be trained" if prepared.plan is None else "or train anyway with --force (recorded)"
        )
        raise CheckFailed(
            "preflight_failed",
            f"pre-flight refused the run ({codes}); see the findings above; {hint}",
            Location(field="train"),
        )
    result = TrainResult(
        "dry-run", None, None, None, {}, prepared.preflight, settings.to_dict(), notes=data.notes
    )
    if request.dry_run:
        return result
    from tuneloop.train.session import execute

    inputs = RunInputs(
        project, request, section, settings, choice, tokenizer, data, prepared, fingerprint, resumed,
        progress=progress,
    )  # fmt: skip
    if request.sweep and resumed is None:
        _sweep(inputs, state)
    inputs.probe = probe
    result.settings = settings.to_dict()
    return execute(inputs, state=state, result=result)


def _selection_probe(
    project: Project, settings: TrainSettings, choice: Any, tokenizer: Any, has_holdout: bool, state: Any
) -> Any:
    """Resolve ``early_stopping_metric``: the suite probe to score with, or None for the holdout loss."""
    from tuneloop.evaluate.probe import suite_probe

    wanted = settings.early_stopping_metric
    if wanted == "eval_loss" or not has_holdout:
        return None
    found = suite_probe(project, choice.resolved, tokenizer, limit=settings.eval_metric_examples)
    if wanted not in ("auto", "primary"):  # a resumed run: resolved when it started
        if found[0] is None or found[0].name != wanted:  # the suite changed since: fall back
            settings.early_stopping_metric = "eval_loss"
            return None
        return found[0]
    sharded = any(kind in str(state.distributed_type).upper() for kind in ("FSDP", "DEEPSPEED"))
    probe, why = (None, "sharded weights cannot generate during training") if sharded else found
    if probe is None and wanted == "primary":
        raise InvalidInput(
            "no_primary_metric",
            f"train.early_stopping_metric is primary, but {why}",
            Location(field="train.early_stopping_metric"),
        )
    settings.early_stopping_metric = probe.name if probe is not None else "eval_loss"
    settings.derived["early_stopping_metric"] = f"{settings.early_stopping_metric}: " + (
        why if probe is not None else f"the holdout loss ({why})"
    )
    return probe


def _sweep(inputs: RunInputs, state: Any) -> None:
    from tuneloop.train.sweep import SWEEPS, sweep_learning_rate

    if inputs.request.sweep not in SWEEPS:
        raise InvalidInput(
            "unknown_sweep",
            f"--sweep {inputs.request.sweep!r}: choose one of {', '.join(SWEEPS)}",
            Location(field="--sweep"),
        )
    if state.num_processes > 1:
        raise InvalidInput(
            "sweep_distributed", "run --sweep in one process, then launch the run with the rate it found"
        )
    sweep_learning_rate(inputs, progress=inputs.progress)


@dataclass
class Prepared:
    """The tokenized items, the batch plan (None when the pre-flight refused) and the pre-flight."""

    items: list[TrainingItem]
    eval_items: list[TrainingItem]
    plan: TrainingPlan | None
    preflight: PreflightReport


def prepare(
    project: Project,
    settings: TrainSettings,
    data: TrainingData,
    tokenizer: Any,
    choice: BaseChoice,
    *,
    world_size: int = 1,
) -> Prepared:
    """Tokenize, plan the batches and run the pre-flight checks (no model weights are loaded)."""
    from tuneloop.models import count_parameters
    from tuneloop.train.modeling import generation_eos_from_files
    from tuneloop.train.preflight import (
        check_end_of_turn,
        check_items,
        end_of_turn_token,
        estimate,
        marked_text,
        render_segments,
    )
    from tuneloop.train.settings import finish_batching, finish_intervals, plan_batches

    system_prompt = project.config.project.system_prompt
    all_items = _tokenize(data.records, tokenizer, settings, system_prompt)
    items = [item for item in all_items if item.num_loss_tokens > 0]
    dropped = [item.source for item in all_items if item.num_loss_tokens == 0]
    eval_items, eval_note = _eval_items(data.holdout, tokenizer, settings, system_prompt)
    report = PreflightReport()
    if eval_note:
        report.add("info", "no_eval_loss", eval_note)
    check_items(report, all_items, dropped, len(data.records))
    eot = end_of_turn_token(
        tokenizer, choice.catalog_entry.tooling.end_of_turn_token if choice.catalog_entry else None
    )
    eos = generation_eos_from_files(choice.resolved.adapter_path, choice.resolved.base_path)
    check_end_of_turn(report, items, tokenizer, eot, eos, chat=get_method(settings.method).chat)
    for item in items[:3]:
        segments = render_segments(item.sequences[0], tokenizer)
        report.examples.append({"source": item.source, "segments": segments, "marked": marked_text(segments)})
    if not report.ok:
        return Prepared(items, eval_items, None, report)
    finish_batching(settings, len(items), world_size=world_size)
    plan = plan_batches(items, settings, max_steps=settings.max_steps, world_size=world_size)
    finish_intervals(
        settings, len(plan.steps), steps_per_epoch=plan.steps_per_epoch, has_holdout=bool(eval_items)
    )
    report.stats["steps"] = len(plan.steps)
    report.stats["steps_per_epoch"] = plan.steps_per_epoch
    report.stats["micro_batches_per_step"] = sum(len(s.micro_batches) for s in plan.steps) / max(
        1, len(plan.steps)
    )
    biggest = max(mb.loss_tokens for s in plan.steps for mb in s.micro_batches)
    if settings.tokens_per_step and biggest > settings.tokens_per_step:
        report.add(
            "info",
            "micro_batch_over_step_budget",
            f"one micro-batch holds up to {biggest} trained tokens, more than "
            f"tokens_per_step ({settings.tokens_per_step}); such steps are one micro-batch each",
        )
    estimate(
        report,
        plan,
        settings,
        parameters=count_parameters(choice.resolved.base_path),
        model_dir=choice.resolved.base_path,
    )
    return Prepared(items, eval_items, plan, report)


def _eval_items(
    holdout: list[Any], tokenizer: Any, settings: TrainSettings, system_prompt: str | None
) -> tuple[list[Any], str | None]:

    if not holdout:
        return [], None
    kinds = get_method(settings.method).record_kinds
    usable = [r for r in holdout if r.kind in kinds]
    if not usable:
        return [], f"the holdout holds no {kinds[0]} records, so no eval loss is computed during training"
    items = _tokenize(usable[: settings.eval_max_examples], tokenizer, settings, system_prompt)
    return [item for item in items if item.num_loss_tokens > 0], None


def _tokenize(
    records: list[Any], tokenizer: Any, settings: TrainSettings, system_prompt: str | None
) -> list[Any]:
    from tuneloop.train.tokenize import build_items

    return build_items(
        records,
        tokenizer,
        method=settings.method,
        max_length=settings.max_length,
        masking=settings.loss_masking,
        system_prompt=system_prompt,
        seed=settings.seed,
    )


def _settings(
    project: Project, section: Any, choice: Any, state: Any, resumed: run_records.RunInfo | None
) -> TrainSettings:
    from tuneloop.train.settings import resolve_settings

    if resumed is not None:
        stored = dict(resumed.config["settings"])
        from tuneloop.config.train import PreferenceSettings

        stored["preference"] = PreferenceSettings(**stored["preference"])
        return TrainSettings(**stored)
    device = "cuda" if _cuda() else "cpu"
    targets = list(choice.catalog_entry.tooling.lora_targets) if choice.catalog_entry else None
    return resolve_settings(
        section,
        device=device,
        model_dir=choice.resolved.base_path,
        max_length=project.config.model.max_length,
        catalog_targets=targets,
        local_world_size=state.num_processes if state.num_processes > 1 else 1,
    )


def _fingerprint(section: Any, digest: str, choice: Any) -> str:
    payload = {
        "section": section.model_dump(mode="json"),
        "data": digest,
        "base": choice.base_reference,
        "weights": choice.resolved.base_weights_sha256,
        "parent": choice.parent.reference if choice.parent else None,
    }
    return sha256_bytes(json.dumps(payload, sort_keys=True).encode())[:16]


def _find_resume(project: Project, request: TrainRequest) -> run_records.RunInfo:
    if isinstance(request.resume, str):
        info = run_records.get_run(project, request.resume, with_metrics=False)
        if info.status == "completed":
            raise InvalidInput("run_completed", f"run '{info.name}' already completed; nothing to resume")
        if run_records.is_alive(info):
            raise InvalidInput(
                "run_alive", f"run '{info.name}' is still running (its process holds the run lock)"
            )
        return info
    found = run_records.find_resumable(project)
    if found is None:
        raise NotFound(
            "nothing_to_resume", "no interrupted, failed or crashed run to resume; see `tuneloop runs list`"
        )
    info = found
    return info


def _request_for_resume(request: TrainRequest, info: run_records.RunInfo) -> TrainRequest:
    """The resumed run's own inputs (data files, parent, name) win over the current config."""
    stored = info.config
    request.run_name = info.name
    if stored.get("dataset_version"):
        request.dataset_version = stored["dataset_version"]
    elif request.records is None and stored.get("data_files"):
        request.data = [Path(p) for p in stored["data_files"]]
    if request.holdout_records is None and stored.get("holdout_files") is not None:
        request.holdout = [Path(p) for p in stored["holdout_files"]]
    request.register_as = stored.get("register_as")
    request.tag = stored.get("tag")
    request.force = request.force or bool(info.forced)
    return request


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
