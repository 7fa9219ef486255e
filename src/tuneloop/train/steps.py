"""One optimizer step, one holdout evaluation and the reference log-probabilities: the computation
the training loop (:mod:`.training_loop`) repeats, through accelerate.

Every process takes its share of a step's micro-batches; gradients are synchronised once per step.
The method (:mod:`tuneloop.train.methods`) decides which sequences are forwarded, whether reference
log-probabilities are passed and which objective turns them into the loss.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneloop.progress import SILENT, Progress
from tuneloop.train.batching import Batch, MicroBatch, Step, TrainingPlan, collate, plan_micro_batches
from tuneloop.train.checkpoint import CheckpointState
from tuneloop.train.methods import AuxiliaryInputs, get_method
from tuneloop.train.objectives import StepTotals, label_log_probs
from tuneloop.train.settings import TrainSettings
from tuneloop.train.tokenize import TrainingItem

if TYPE_CHECKING:
    from tuneloop.evaluate.probe import SuiteProbe

MetricSink = Callable[[int, dict[str, float]], None]


@dataclass
class LoopContext:
    """Everything the loop needs; the hyper-parameters come from ``settings``."""

    accelerator: Any
    model: Any
    optimizer: Any
    scheduler: Any
    items: list[TrainingItem]
    plan: TrainingPlan
    settings: TrainSettings
    pad_id: int
    checkpoint_root: Path
    eval_items: list[TrainingItem] = field(default_factory=list)
    reference: Any = None
    """``[items, roles]`` tensor of the starting model's log-probabilities (methods that need one)."""
    eval_reference: Any = None
    full_logits: bool = False
    """Compute logits everywhere and select (models whose forward lacks ``logits_to_keep``)."""
    log_metrics: MetricSink | None = None
    probe: SuiteProbe | None = None
    """Scores the model on the suite's primary metric at each holdout evaluation (``probe.name``)."""
    progress: Progress = SILENT
    """Where the main process reports the training bar (other processes report nothing)."""
    start: CheckpointState | None = None
    crash_after_step: int | None = None


def step_totals(
    items: list[TrainingItem], micro_batches: tuple[MicroBatch, ...] | list[MicroBatch]
) -> StepTotals:
    indices = [i for mb in micro_batches for i in mb.items]
    return StepTotals(
        loss_tokens=sum(items[i].num_loss_tokens for i in indices),
        items=len(indices),
        chosen_tokens=sum(items[i].sequences[0].num_loss_tokens for i in indices),
    )


def micro_batch_loss(
    ctx: LoopContext, mb: MicroBatch, totals: StepTotals, reference: Any, items: list[TrainingItem]
) -> tuple[Any, dict[str, float], dict[str, float]]:
    """Forward one micro-batch and return its share of the step loss, with metric sums."""
    device = ctx.accelerator.device
    method = get_method(ctx.settings.method)

    def collate_roles(roles: tuple[int, ...] | None) -> Any:
        return collate(
            items, mb.items, pad_id=ctx.pad_id, packing=ctx.plan.packing,
            row_length=ctx.settings.max_length, roles=roles,
        ).to(device)  # fmt: skip

    batch = collate_roles(method.forward_roles)
    extra: dict[str, Any] = {}
    if method.needs_reference:
        extra["reference"] = reference[batch.item_indices].to(device)
    if method.auxiliary is not None:
        extra |= method.auxiliary(
            AuxiliaryInputs(
                ctx.model, collate_roles, extra.get("reference"), ctx.full_logits, ctx.settings.bf16
            )
        )
    out = method.forward(ctx.model, batch, full_logits=ctx.full_logits, bf16=ctx.settings.bf16)
    result = method.objective(out, totals, ctx.settings.preference, **extra)
    return result.loss, result.metrics, result.counts


def train_step(ctx: LoopContext, step: Step) -> dict[str, float]:
    """Accumulate the step's micro-batches, clip, update; return the step's metrics (all processes)."""
    import torch

    acc = ctx.accelerator
    totals = step_totals(ctx.items, step.micro_batches)
    mine = step.for_rank(acc.process_index, acc.num_processes)
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, float] = defaultdict(float)
    loss_value = 0.0
    tokens = 0
    ctx.model.train()
    for k, mb in enumerate(mine):
        weight = 0.0 if mb is None else 1.0
        sync = k == len(mine) - 1
        # DeepSpeed accumulates and steps inside backward at the boundary accelerate flags here.
        acc.gradient_state._set_sync_gradients(sync)
        with contextlib.nullcontext() if sync else acc.no_sync(ctx.model):
            loss, metrics, metric_counts = micro_batch_loss(
                ctx, mb or step.micro_batches[0], totals, ctx.reference, ctx.items
            )
            # DDP/FSDP average gradients over processes, while each process's loss is already a
            # share of the global step loss: scale back up so the update is the whole step's gradient.
            acc.backward(loss * weight * acc.num_processes)
        loss_value += float(loss.detach()) * weight
        tokens += mb.tokens if mb is not None else 0
        for name, value in metrics.items():
            sums[name] += value * weight
            counts[name] += metric_counts[name] * weight
    grad_norm = None
    if ctx.settings.max_grad_norm is not None:
        grad_norm = acc.clip_grad_norm_(
            [p for p in ctx.model.parameters() if p.requires_grad], ctx.settings.max_grad_norm
        )
    learning_rate = float(ctx.scheduler.get_last_lr()[0])
    ctx.optimizer.step()
    ctx.scheduler.step()
    ctx.optimizer.zero_grad(set_to_none=True)
    names = sorted(sums)
    local = torch.tensor(
        [loss_value, float(tokens), *[sums[n] for n in names], *[counts[n] for n in names]],
        dtype=torch.float64,
        device=acc.device,
    )
    total = acc.reduce(local, reduction="sum") if acc.num_processes > 1 else local
    values = total.tolist()
    result = {"loss": values[0], "tokens": values[1], "learning_rate": learning_rate}
    for i, name in enumerate(names):
        denominator = values[2 + len(names) + i]
        if denominator:
            result[name] = values[2 + i] / denominator
    if grad_norm is not None:
        result["grad_norm"] = float(grad_norm)
    return result


def evaluate_loss(ctx: LoopContext) -> dict[str, float]:
    """The objective on the holdout items (same formula as training), shared across processes."""
    import torch

    acc = ctx.accelerator
    batches = plan_micro_batches(
        ctx.eval_items,
        seed=0,
        micro_batch_tokens=ctx.settings.micro_batch_tokens,
        max_micro_batch=ctx.settings.max_micro_batch,
        packing=ctx.plan.packing,
    )
    totals = step_totals(ctx.eval_items, batches)
    loss_value = 0.0
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, float] = defaultdict(float)
    ctx.model.eval()
    # Every process makes the same number of forward passes (a zero-weight one where its share is
    # shorter): DDP and FSDP run collectives inside forward, which must line up across processes.
    share = Step(tuple(batches), 0).for_rank(acc.process_index, acc.num_processes)
    with torch.no_grad():
        for mb in share:
            weight = 0.0 if mb is None else 1.0
            loss, metrics, metric_counts = micro_batch_loss(
                ctx, mb or batches[0], totals, ctx.eval_reference, ctx.eval_items
            )
            loss_value += float(loss) * weight
            for name, value in metrics.items():
                sums[name] += value * weight
                counts[name] += metric_counts[name] * weight
    names = ["token_accuracy", "reward_accuracy"]
    local = torch.tensor(
        [loss_value, *[sums[n] for n in names], *[counts[n] for n in names]],
        dtype=torch.float64,
        device=acc.device,
    )
    values = (acc.reduce(local, reduction="sum") if acc.num_processes > 1 else local).tolist()
    result = {"eval_loss": values[0]}
    for i, name in enumerate(names):
        if values[1 + len(names) + i]:
            result[f"eval_{name}"] = values[1 + i] / values[1 + len(names) + i]
    ctx.model.train()
    return result


def evaluate(ctx: LoopContext) -> dict[str, float]:
    """The holdout loss, and the suite's primary metric when a probe is set."""
    values = evaluate_loss(ctx)
    if ctx.probe is not None:
        values[ctx.probe.name] = ctx.probe(ctx.accelerator.unwrap_model(ctx.model))
    return values


def compute_reference(
    model: Any,
    items: list[TrainingItem],
    *,
    accelerator: Any,
    pad_id: int,
    packing: bool,
    row_length: int,
    micro_batch_tokens: int,
    max_micro_batch: int,
    full_logits: bool = False,
    bf16: bool = False,
) -> Any:
    """Summed log-probabilities of every sequence under the starting model, ``[items, roles]``.

    Computed once before training: the reference of DPO/KTO is the model the run starts from, so no
    second copy of the model is needed (for an adapter it is the base, or the parent version)."""
    import torch

    roles = max(len(item.sequences) for item in items)
    reference = torch.zeros((len(items), roles), dtype=torch.float32)
    batches = plan_micro_batches(
        items, seed=0, micro_batch_tokens=micro_batch_tokens, max_micro_batch=max_micro_batch, packing=packing
    )
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for mb in batches:
            batch: Batch = collate(items, mb.items, pad_id=pad_id, packing=packing, row_length=row_length).to(
                accelerator.device
            )
            sums, _ = label_log_probs(model, batch, full_logits=full_logits, bf16=bf16).sequence_sums()
            for s, value in enumerate(sums.tolist()):
                reference[batch.item_indices[batch.sequence_item[s]], batch.sequence_role[s]] = value
    model.train(was_training)
    return reference
