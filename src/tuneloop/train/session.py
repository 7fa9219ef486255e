"""The compute half of a run: record it, load the model, train it in every process, save the weights,
and (main process) hand the result to :mod:`.registration`.

Called by :func:`tuneloop.train.pipeline.train` once the inputs and the pre-flight have passed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneloop.errors import InvalidInput, Location
from tuneloop.machine import cpu_contention
from tuneloop.progress import Progress
from tuneloop.train import run_records
from tuneloop.train.checkpoint import latest_checkpoint, load_checkpoint
from tuneloop.train.distributed import on_main_process
from tuneloop.train.environment import environment_lock
from tuneloop.train.inputs import RunInputs, files_or_config, template_sha256
from tuneloop.train.methods import get_method
from tuneloop.train.registration import judge_with_evaluation, post_train_evaluation, register_result
from tuneloop.train.steps import LoopContext, compute_reference
from tuneloop.train.training_loop import SimulatedCrash, run_loop

if TYPE_CHECKING:
    from tuneloop.train.pipeline import TrainResult
    from tuneloop.train.settings import TrainSettings

SCHEDULERS = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}


def execute(inputs: RunInputs, *, state: Any, result: TrainResult) -> TrainResult:
    """Record the run, train it in every process, and (main process) register the result."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    project, request, settings = inputs.project, inputs.request, inputs.settings
    environment = environment_lock(state)
    trackers = _trackers(settings.report_to)  # before the run exists: a missing package is a usage error
    info = on_main_process(state, lambda: _open_run(inputs, environment))
    run_dir = Path(info.output_dir)
    lock = run_records.RunLock(run_dir)
    if state.is_main_process and not lock.acquire():
        raise InvalidInput(
            "run_alive", f"run '{info.name}' is already running in another process", Location(str(run_dir))
        )
    result.run_name, result.run_dir = info.name, run_dir
    result.is_main_process = state.is_main_process
    try:
        accelerator = Accelerator(
            cpu=not torch.cuda.is_available(), log_with=trackers, project_dir=str(run_dir)
        )
        if settings.report_to:
            accelerator.init_trackers(info.name, config=_flat(settings.to_dict()))
        torch.set_num_threads(settings.threads)
        if state.is_main_process and accelerator.device.type == "cpu" and not settings.sweep:
            warn_if_cpu_busy(inputs.progress, settings.threads)  # a sweep warned before its proxies
        set_seed(settings.seed)
        loop_result, final_dir, trained = _train(inputs, accelerator, info)
        if settings.report_to:
            accelerator.end_training()
    except SimulatedCrash:
        raise  # like kill -9: the record stays "running" and the lock is released by the OS
    except BaseException as exc:
        if state.is_main_process:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            run_records.finish_run(project, info.name, status, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        lock.release()
    result.metrics = loop_result.metrics
    summary = loop_result.summary() | {
        "processes": state.num_processes,
        "planned_steps": len(inputs.plan.steps),
    }
    result.status = loop_result.status
    if not state.is_main_process:
        return result
    if loop_result.status == "interrupted":
        run_records.finish_run(project, info.name, "interrupted", summary=summary)
        return result
    try:
        model_version = register_result(inputs, info, final_dir, trained, summary, environment, result)
    except BaseException as exc:
        run_records.finish_run(
            project, info.name, "failed", summary=summary, error=f"{type(exc).__name__}: {exc}"
        )
        raise
    if not request.no_eval and inputs.section.eval_after_train:
        result.evaluation = post_train_evaluation(project, model_version, progress=inputs.progress)
        if result.evaluation is not None:
            judge_with_evaluation(inputs, info, summary, result, model_version)
    return result


def warn_if_cpu_busy(progress: Progress, threads: int) -> None:
    """Say so when other processes occupy the cores training is about to use (CPU training only)."""
    if message := cpu_contention(threads):
        progress.warning(message)


def _open_run(inputs: RunInputs, environment: dict[str, Any]) -> run_records.RunInfo:
    if inputs.resumed is not None:
        return inputs.resumed
    project, request, settings, data, choice = (
        inputs.project, inputs.request, inputs.settings, inputs.data, inputs.choice
    )  # fmt: skip
    preflight = inputs.prepared.preflight
    force_reasons = [data.force_reason] if data.forced and data.force_reason else []
    if not preflight.ok:
        codes = ", ".join(f.code for f in preflight.findings if f.severity == "error")
        force_reasons.append(request.force_reason or f"pre-flight failed ({codes}) and --force was given")
    register_as = request.register_as or inputs.section.register_as
    name = request.run_name or run_records.unique_run_name(
        project, f"{register_as or project.config.project.name}-{settings.method}"
    )
    licence = choice.licence or {}
    holdout = files_or_config(request.holdout, project.config.data.holdout)
    return run_records.create_run(
        project,
        name=name,
        method=settings.method,
        adapter=settings.adapter,
        config={
            "fingerprint": inputs.fingerprint,
            "section": inputs.section.model_dump(mode="json"),
            "settings": settings.to_dict(),
            "dataset_digest": data.dataset_digest,
            "data_files": data.source_files,
            "dataset_version": request.dataset_version,
            "holdout_files": [str(project.resolve_path(p)) for p in holdout],
            "register_as": register_as,
            "tag": request.tag,
            "licence": licence,
            "data_report": data.report,
        },
        dataset_version_id=data.dataset_version_id,
        base_reference=choice.base_reference,
        base_weights_sha256=choice.resolved.base_weights_sha256,
        chat_template_sha256=template_sha256(inputs.tokenizer),
        parent_version_id=choice.parent.id if choice.parent else None,
        environment=environment,
        forced=bool(force_reasons),
        force_reason="; ".join(force_reasons) or None,
        licence_override=licence if licence.get("overridden") else None,
        output_dir=str(run_records.run_dir(project, name)),
    )


def _train(inputs: RunInputs, accelerator: Any, info: run_records.RunInfo) -> tuple[Any, Path, Any]:

    from tuneloop.train.modeling import load_for_training, supports_label_logits

    project, settings, prepared, tokenizer = (
        inputs.project,
        inputs.settings,
        inputs.prepared,
        inputs.tokenizer,
    )
    run_dir = Path(info.output_dir)
    trained = load_for_training(
        inputs.choice.resolved, settings, device=accelerator.device.type, tokenizer=tokenizer,
        model_dtype=project.config.model.dtype,
    )  # fmt: skip
    optimizer, scheduler = optimizer_and_scheduler(trained.model, settings, len(inputs.plan.steps))
    model, optimizer = accelerator.prepare(trained.model, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    full_logits = not supports_label_logits(trained.model)
    common = {
        "accelerator": accelerator,
        "pad_id": tokenizer.pad_token_id,
        "packing": settings.packing,
        "row_length": settings.max_length,
        "micro_batch_tokens": settings.micro_batch_tokens,
        "max_micro_batch": settings.max_micro_batch,
        "bf16": settings.bf16,
        "full_logits": full_logits,
    }
    reference = eval_reference = None
    if get_method(settings.method).needs_reference:
        reference = _reference(model, prepared.items, run_dir / "reference.pt", accelerator, common)
        if prepared.eval_items:
            eval_reference = _reference(
                model, prepared.eval_items, run_dir / "reference-eval.pt", accelerator, common
            )
    checkpoint_root = run_dir / "checkpoints"
    start = _resume_point(inputs, accelerator, info, model, optimizer, scheduler, checkpoint_root)

    def log_metrics(step: int, values: dict[str, float]) -> None:
        run_records.append_metrics(project, info.id, step, values)
        run_records.log_event(run_dir, "metrics", step=step, **values)
        if settings.report_to:
            accelerator.log(values, step=step)

    ctx = LoopContext(
        accelerator=accelerator,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        items=prepared.items,
        plan=inputs.plan,
        settings=settings,
        pad_id=tokenizer.pad_token_id,
        checkpoint_root=checkpoint_root,
        eval_items=prepared.eval_items,
        reference=reference,
        eval_reference=eval_reference,
        full_logits=full_logits,
        log_metrics=log_metrics,
        probe=inputs.probe,
        progress=inputs.progress,
        start=start,
        crash_after_step=inputs.request.crash_after_step,
    )
    loop_result = run_loop(ctx)
    loop_result.ranks_agree = _ranks_agree(accelerator, model)
    final_dir = run_dir / "final"
    if loop_result.status == "completed":
        _save_final(
            accelerator, model, trained, tokenizer, final_dir, _eos_with_end_of_turn(prepared.preflight)
        )
    accelerator.wait_for_everyone()
    return loop_result, final_dir, trained


def _resume_point(inputs: RunInputs, accelerator: Any, info: run_records.RunInfo, model: Any, optimizer: Any,
                  scheduler: Any, checkpoint_root: Path) -> Any:  # fmt: skip
    """The newest checkpoint of a resumed run, loaded into model, optimizer and scheduler."""
    if inputs.resumed is None:
        return None
    latest = latest_checkpoint(checkpoint_root)
    start = None
    if latest is not None:
        start = load_checkpoint(latest, accelerator=accelerator, model=model, optimizer=optimizer,
                                scheduler=scheduler, plan_digest=inputs.plan.digest)  # fmt: skip
    if accelerator.is_main_process:
        run_records.restart_run(inputs.project, info.name, start.step if start else 0)
        run_records.log_event(Path(info.output_dir), "resumed", step=start.step if start else 0)
        where = f"step {start.step}" if start else "the beginning (no checkpoint was written)"
        inputs.progress.info(f"resuming run {info.name} from {where}")
    return start


def _save_final(
    accelerator: Any, model: Any, trained: Any, tokenizer: Any, final_dir: Path, eos: list[int]
) -> None:
    """The trained adapter or weights with tokenizer and generation config. Sharded weights (FSDP,
    ZeRO-3) are gathered first, which every process must take part in."""
    from tuneloop.train.modeling import save_trained

    sharded = any(kind in str(accelerator.distributed_type).upper() for kind in ("FSDP", "DEEPSPEED"))
    state_dict = accelerator.get_state_dict(model) if sharded else None
    if accelerator.is_main_process:
        save_trained(accelerator.unwrap_model(model), tokenizer, final_dir, kind=trained.kind, eos_ids=eos,
                     state_dict=state_dict)  # fmt: skip


def _ranks_agree(accelerator: Any, model: Any) -> bool:
    """Every process ends with the same trainable weights (a desynchronised replica would otherwise
    go unnoticed until evaluation). Compared through a hash of each process's weights."""
    if accelerator.num_processes == 1 or "FSDP" in str(accelerator.distributed_type).upper():
        return True  # one process, or sharded weights that are not replicas
    import hashlib

    from accelerate.utils import gather_object

    digest = hashlib.sha256()
    for name, parameter in accelerator.unwrap_model(model).named_parameters():
        if parameter.requires_grad:
            digest.update(name.encode() + parameter.detach().float().cpu().numpy().tobytes())
    digests = gather_object([digest.hexdigest()])
    if len(set(digests)) != 1:
        raise RuntimeError(f"processes ended with different weights ({', '.join(d[:12] for d in digests)})")
    return True


def _reference(model: Any, items: list[Any], path: Path, accelerator: Any, common: dict[str, Any]) -> Any:
    """Reference log-probs: computed once at the start and kept with the run, so a resumed run uses
    the starting model's values, not the half-trained model's."""
    import torch

    if path.is_file():
        return torch.load(path, weights_only=True)
    reference = compute_reference(model, items, **common)
    if accelerator.is_main_process:
        tmp = path.with_suffix(".tmp")
        torch.save(reference, tmp)
        tmp.replace(path)
    return reference


def optimizer_and_scheduler(model: Any, settings: TrainSettings, total_steps: int) -> tuple[Any, Any]:
    """AdamW at ``settings.learning_rate`` and the warm-up + decay schedule over ``total_steps``
    (the real run and the sweep's proxy runs alike)."""
    import torch
    from transformers import get_scheduler

    optimizer = torch.optim.AdamW(_parameter_groups(model, settings.weight_decay), lr=settings.learning_rate)
    scheduler = get_scheduler(
        SCHEDULERS[settings.scheduler],
        optimizer,
        num_warmup_steps=round(settings.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    return optimizer, scheduler


def _parameter_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    """No weight decay on biases and norm weights (vectors), the usual AdamW practice."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for _, p in trainable if p.ndim >= 2]
    no_decay = [p for _, p in trainable if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def _eos_with_end_of_turn(preflight: Any) -> list[int]:
    eos = list(preflight.end_of_turn.get("generation_eos_ids") or [])
    eot = preflight.end_of_turn.get("id")
    if eot is not None and eot not in eos:
        eos.append(eot)
    return eos


def _trackers(report_to: list[str]) -> list[str] | None:
    if not report_to:
        return None
    import importlib.util

    modules = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}
    missing = [t for t in report_to if importlib.util.find_spec(modules[t]) is None]
    if missing:
        raise InvalidInput(
            "tracker_not_installed",
            f"train.report_to names {', '.join(missing)}, which is not installed; "
            f"`pip install {' '.join(missing)}` (or `pip install tuneloop[tracking]`)",
            Location(field="train.report_to"),
        )
    return list(report_to)


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}/"))
        elif isinstance(value, int | float | str | bool):
            flat[f"{prefix}{key}"] = value
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat
