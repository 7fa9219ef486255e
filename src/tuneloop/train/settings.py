"""Concrete hyper-parameters of a run: the config's values, with every unset one derived.

Each derived value records how it was derived (``TrainSettings.derived``), so ``--dry-run``, the run
record and the training report all show the formula and its inputs, not just a number.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tuneloop import machine
from tuneloop.config.train import LossMasking, PreferenceSettings, TrainSection
from tuneloop.train.batching import TrainingPlan
from tuneloop.train.methods import RateInputs, available_methods, get_method
from tuneloop.train.tokenize import TrainingItem

MIN_MICRO_BATCH_TOKENS, MAX_MICRO_BATCH_TOKENS = 256, 65536


@dataclass
class TrainSettings:
    """Everything the loop needs, resolved."""

    method: str
    adapter: str
    learning_rate: float
    epochs: float
    """0 until derived from the data (:func:`finish_batching`)."""
    max_steps: int | None
    examples_per_step: int
    """Examples per optimizer step; 0 when ``tokens_per_step`` fills the steps instead."""
    tokens_per_step: int
    micro_batch_tokens: int
    max_micro_batch: int
    warmup_ratio: float
    scheduler: str
    weight_decay: float
    max_grad_norm: float | None
    packing: bool
    loss_masking: LossMasking
    save_every_steps: int
    keep_checkpoints: int
    eval_every_steps: int
    eval_max_examples: int
    early_stopping_patience: int
    early_stopping_min_delta: float
    early_stopping_metric: str
    """``auto``/``primary`` until resolved against the project's suites, then ``eval_loss`` or
    ``eval_<metric>`` (:func:`tuneloop.train.pipeline.train`)."""
    eval_metric_examples: int
    keep_best: bool
    report_to: list[str]
    gradient_checkpointing: bool
    bf16: bool
    threads: int
    max_length: int
    seed: int
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    target_modules: list[str] | str
    preference: PreferenceSettings
    derived: dict[str, str] = field(default_factory=dict)
    sweep: list[dict[str, float]] = field(default_factory=list)
    """Learning-rate sweep results (``--sweep lr``): each candidate rate and its holdout loss."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["preference"] = self.preference.model_dump()
        return data


def resolve_settings(
    section: TrainSection,
    *,
    device: str,
    model_dir: Path,
    max_length: int,
    catalog_targets: list[str] | None,
    local_world_size: int = 1,
) -> TrainSettings:
    """Resolve what does not depend on the data (tokens per step and intervals come later)."""
    derived: dict[str, str] = {}
    kind = "full" if section.adapter == "full" else "adapter"
    alpha = section.lora.alpha or 2 * section.lora.r
    if section.lora.alpha is None:
        derived["lora_alpha"] = f"{alpha}: 2 x r"
    method = get_method(section.method)
    learning_rate = section.learning_rate
    if learning_rate is None:
        rate_inputs = RateInputs(section.method, model_dir, adapter=kind == "adapter", alpha=alpha)
        learning_rate, derived["learning_rate"] = method.learning_rate(rate_inputs)
    packing = section.packing
    if packing is None:
        packing = method.packing
        packed = [m.name for m in available_methods().values() if m.packing]
        derived["packing"] = f"{packing}: on for {', '.join(packed)}, off otherwise (length-grouped batches)"
    bf16 = _bf16(section.bf16, device)
    if section.bf16 == "auto":
        derived["bf16"] = f"{bf16}: " + (
            "the hardware runs bf16 matmuls natively"
            if bf16
            else "no native bf16 here (it would be emulated)"
        )
    checkpointing = section.gradient_checkpointing
    if checkpointing is None:
        checkpointing = device == "cuda" and section.adapter in ("full", "qlora")
        derived["gradient_checkpointing"] = f"{checkpointing}: on for full/qlora on GPU, else off"
    threads, threads_why = _threads(section.threads, local_world_size)
    if threads_why:
        derived["threads"] = threads_why
    micro = section.micro_batch_tokens
    if micro is None:
        micro, why = derive_micro_batch_tokens(model_dir, device=device, checkpointing=checkpointing)
        derived["micro_batch_tokens"] = why
    targets: list[str] | str = section.lora.target_modules or catalog_targets or "all-linear"
    if section.lora.target_modules is None:
        derived["target_modules"] = (
            f"{targets}: from the model catalog"
            if catalog_targets
            else "all-linear: model not in the catalog"
        )
    return TrainSettings(
        method=section.method,
        adapter=section.adapter,
        learning_rate=learning_rate,
        epochs=section.epochs or 0.0,
        max_steps=section.max_steps,
        examples_per_step=0 if section.tokens_per_step else section.examples_per_step or 0,
        tokens_per_step=section.tokens_per_step or 0,
        micro_batch_tokens=micro,
        max_micro_batch=section.max_micro_batch,
        warmup_ratio=section.warmup_ratio,
        scheduler=section.scheduler,
        weight_decay=section.weight_decay,
        max_grad_norm=section.max_grad_norm,
        packing=packing,
        loss_masking=method.loss_masking or section.loss_masking,
        save_every_steps=section.save_every_steps or 0,
        keep_checkpoints=section.keep_checkpoints,
        eval_every_steps=section.eval_every_steps if section.eval_every_steps is not None else -1,
        eval_max_examples=section.eval_max_examples,
        early_stopping_patience=section.early_stopping_patience,
        early_stopping_min_delta=section.early_stopping_min_delta,
        early_stopping_metric=section.early_stopping_metric,
        eval_metric_examples=section.eval_metric_examples,
        keep_best=section.keep_best,
        report_to=list(section.report_to),
        gradient_checkpointing=checkpointing,
        bf16=bf16,
        threads=threads,
        max_length=max_length,
        seed=section.seed,
        lora_r=section.lora.r,
        lora_alpha=alpha,
        lora_dropout=section.lora.dropout,
        target_modules=targets,
        preference=section.preference,
        derived=derived,
    )


def finish_batching(settings: TrainSettings, num_examples: int, *, world_size: int = 1) -> None:
    """Examples per step and epochs, once the number of training examples is known."""
    from tuneloop.config.train import derive_epochs, derive_examples_per_step

    if not settings.tokens_per_step and not settings.examples_per_step:
        settings.examples_per_step = derive_examples_per_step(num_examples, world_size)
        settings.derived["examples_per_step"] = (
            f"{settings.examples_per_step}: 0.2% of {num_examples} examples, within [8, 64]"
        )
    if not settings.epochs:
        per_step = settings.examples_per_step or derive_examples_per_step(num_examples, world_size)
        settings.epochs = derive_epochs(num_examples, per_step)
        settings.derived["epochs"] = (
            f"{settings.epochs:g}: 3 passes; more for small data (about 100 steps, at most 10 passes), "
            "fewer above 25,000 examples"
        )


def plan_batches(
    items: list[TrainingItem], settings: TrainSettings, *, max_steps: int | None, world_size: int = 1
) -> TrainingPlan:
    """The run's batch plan (:func:`~tuneloop.train.batching.build_plan`) from its settings."""
    from tuneloop.train.batching import build_plan

    return build_plan(
        items,
        seed=settings.seed,
        epochs=settings.epochs,
        max_steps=max_steps,
        examples_per_step=settings.examples_per_step,
        tokens_per_step=settings.tokens_per_step,
        micro_batch_tokens=settings.micro_batch_tokens,
        max_micro_batch=settings.max_micro_batch,
        packing=settings.packing,
        world_size=world_size,
    )


def finish_intervals(
    settings: TrainSettings, total_steps: int, *, steps_per_epoch: float, has_holdout: bool
) -> None:
    """Checkpoint and evaluation intervals, once the number of steps is known."""
    if settings.save_every_steps == 0:
        settings.save_every_steps = max(1, math.ceil(total_steps / 10))
        settings.derived["save_every_steps"] = f"{settings.save_every_steps}: about ten checkpoints per run"
    if settings.eval_every_steps < 0:
        if has_holdout:
            settings.eval_every_steps = max(1, math.ceil(steps_per_epoch / 2), math.ceil(total_steps / 20))
            settings.derived["eval_every_steps"] = (
                f"{settings.eval_every_steps}: twice per epoch, at most twenty holdout evaluations per run"
            )
        else:
            settings.eval_every_steps = 0
            settings.derived["eval_every_steps"] = "0: no holdout data"


def _bf16(policy: str, device: str) -> bool:
    if policy != "auto":
        return policy == "on"
    if device == "cuda":
        import torch

        return bool(torch.cuda.is_bf16_supported())
    from tuneloop.models import cpu_supports_fast_bf16

    return cpu_supports_fast_bf16()


def _threads(configured: int | None, local_world_size: int) -> tuple[int, str | None]:
    """torch threads per process: ``train.threads``, else ``TUNELOOP_THREADS``, else the cores
    available shared among this machine's processes; with how it was derived (None: configured)."""
    if configured is not None:
        return configured, None
    override = machine.threads_override()
    if override is not None:
        return override, f"{override}: {machine.THREADS_ENV}"
    threads = max(1, machine.available_cores() // max(1, local_world_size))
    return threads, f"{threads}: cores available / processes on this machine"


def activation_bytes_per_token(model_dir: Path, *, checkpointing: bool) -> int:
    """Rough activation memory kept for the backward pass, per token, in fp32.

    Per layer about ``10 h + 5 i`` values survive until the backward pass (inputs of the attention
    and MLP projections, attention output, the MLP's gate/up/activation products, norms and
    residuals), ``h`` = hidden size and ``i`` = MLP size; with gradient checkpointing only each
    layer's input (``h``) is kept, plus one layer recomputed at a time. The fp32 logits and their
    gradient (``2 V`` values, ``V`` = vocabulary) are counted for every token, an upper bound since
    logits are computed at label positions only.
    """
    config = json.loads((model_dir / "config.json").read_text())
    config = config.get("text_config", config)
    hidden = int(config.get("hidden_size") or config.get("n_embd") or 1024)
    mlp = int(config.get("intermediate_size") or 4 * hidden)
    layers = int(config.get("num_hidden_layers") or config.get("n_layer") or 12)
    vocab = int(config.get("vocab_size") or 32000)
    per_layer = 10 * hidden + 5 * mlp
    values = layers * hidden + per_layer if checkpointing else layers * per_layer
    return 4 * (values + 2 * vocab)


def derive_micro_batch_tokens(model_dir: Path, *, device: str, checkpointing: bool) -> tuple[int, str]:
    """A power of two that keeps activations within a quarter of free memory (at most 8 GiB on CPU)."""
    per_token = activation_bytes_per_token(model_dir, checkpointing=checkpointing)
    if device == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info()
        budget, where = free * 0.4, "40% of free GPU memory"
    else:
        budget, where = min(_available_memory() * 0.25, 8 * 2**30), "a quarter of free RAM (max 8 GiB)"
    raw = budget / per_token
    tokens = 2 ** int(math.log2(max(raw, 1)))
    tokens = int(min(MAX_MICRO_BATCH_TOKENS, max(MIN_MICRO_BATCH_TOKENS, tokens)))
    why = f"{tokens}: {where} / ~{per_token / 1024:.0f} KiB activations per token, as a power of two"
    return tokens, why


def _available_memory() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30
