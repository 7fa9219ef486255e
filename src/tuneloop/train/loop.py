"""The training loop: one optimizer step at a time over the precomputed plan, through accelerate.

Every process runs this same loop (``accelerate launch`` / ``torchrun``); each takes its share of a
step's micro-batches, gradients are synchronised once per step, and only the main process writes
(metrics, checkpoints, the progress bar). Ctrl-C or SIGTERM asks the loop to stop at the end of the
current step: it saves a checkpoint and returns ``interrupted`` (a second Ctrl-C stops at once).
Holdout evaluations feed early stopping and best-weights selection (:mod:`.early_stopping`).
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneloop.train.batching import Batch, MicroBatch, Step, TrainingPlan, collate, plan_micro_batches
from tuneloop.train.checkpoint import CheckpointState, save_checkpoint
from tuneloop.train.early_stopping import BestTracker
from tuneloop.train.objectives import (
    NEEDS_REFERENCE,
    OBJECTIVES,
    StepTotals,
    kto_kl_estimate,
    label_log_probs,
)
from tuneloop.train.settings import TrainSettings
from tuneloop.train.tokenize import TrainingItem

MetricSink = Callable[[int, dict[str, float]], None]


class SimulatedCrash(RuntimeError):
    """Raised by ``crash_after_step`` (tests): the process dies as if killed, without cleanup."""


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
    eval_reference: Any = None
    full_logits: bool = False
    """Compute logits everywhere and select (models whose forward lacks ``logits_to_keep``)."""
    log_metrics: MetricSink | None = None
    probe: Any = None
    """Scores the model on the suite's primary metric at each holdout evaluation (``probe.name``)."""
    quiet: bool = False
    start: CheckpointState | None = None
    crash_after_step: int | None = None


@dataclass
class LoopResult:
    status: str
    """``completed`` or ``interrupted``."""
    step: int
    metrics: dict[str, float]
    """The last value of every metric (train and eval)."""
    history: list[tuple[int, str, float]]
    train_seconds: float
    tokens_seen: int
    loss_tokens_seen: int
    ranks_agree: bool = True
    """Every process ended with identical trainable weights (checked after distributed runs)."""
    stopped_early: bool = False
    """The holdout loss stopped improving (``early_stopping_patience``) before the plan's end."""
    best_step: int | None = None
    """The step of the lowest holdout loss; its weights are the final ones with ``keep_best``."""
    best_eval_loss: float | None = None
    best_metric: str = "eval_loss"
    """What "best" compared (``eval_loss`` or ``eval_<primary metric>``)."""
    best_value: float | None = None
    restored_best: bool = False
    """The final weights are the best evaluation's, not the last step's."""
    cpu_seconds: float = 0.0
    """Processor time of this process in the training steps (all threads): with other work on the
    machine, tokens per CPU-second is steadier than tokens per wall-second."""
    eval_seconds: float = 0.0
    """Wall time of the holdout evaluations (loss and suite metric), not counted in ``train_seconds``:
    the price of early stopping and best-weights selection."""

    def summary(self) -> dict[str, Any]:
        """What the run record keeps of the loop: work done, speed, early stopping, the best step."""
        return {
            "steps": self.step,
            "train_seconds": self.train_seconds,
            "tokens": self.tokens_seen,
            "loss_tokens": self.loss_tokens_seen,
            "tokens_per_second": self.tokens_per_second,
            "loss_tokens_per_second": self.loss_tokens_per_second,
            "cpu_seconds": self.cpu_seconds,
            "eval_seconds": self.eval_seconds,
            "ranks_agree": self.ranks_agree,
            "metrics": self.metrics,
            "stopped_early": self.stopped_early,
            "best_step": self.best_step,
            "best_eval_loss": self.best_eval_loss,
            "best_metric": self.best_metric,
            "best_value": self.best_value,
            "kept_best": self.restored_best,
        }

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_seen / self.train_seconds if self.train_seconds else 0.0

    @property
    def loss_tokens_per_second(self) -> float:
        return self.loss_tokens_seen / self.train_seconds if self.train_seconds else 0.0


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
    roles = (0,) if ctx.settings.method == "kto" else None
    batch = collate(
        items,
        mb.items,
        pad_id=ctx.pad_id,
        packing=ctx.plan.packing,
        row_length=ctx.settings.max_length,
        roles=roles,
    )
    batch = batch.to(device)
    extra: dict[str, Any] = {}
    if ctx.settings.method in NEEDS_REFERENCE:
        extra["reference"] = reference[batch.item_indices].to(device)
    if ctx.settings.method == "kto":
        kl_batch = collate(
            items,
            mb.items,
            pad_id=ctx.pad_id,
            packing=ctx.plan.packing,
            row_length=ctx.settings.max_length,
            roles=(1,),
        ).to(device)
        extra["kl_estimate"] = kto_kl_estimate(
            ctx.model, kl_batch, extra["reference"][:, 1], full_logits=ctx.full_logits, bf16=ctx.settings.bf16
        )
    out = label_log_probs(ctx.model, batch, full_logits=ctx.full_logits, bf16=ctx.settings.bf16)
    result = OBJECTIVES[ctx.settings.method](out, totals, ctx.settings.preference, **extra)
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


@contextlib.contextmanager
def stop_requests() -> Iterator[dict[str, bool]]:
    """Turn the first Ctrl-C / SIGTERM into a request to stop after the current step."""
    flag = {"stop": False}
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"] = True

    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: signals cannot be caught here
        previous.clear()
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_loop(ctx: LoopContext) -> LoopResult:
    """Train from ``ctx.start`` (or step 0) to the end of the plan, or until asked to stop."""
    from tuneloop.console import progress_bar

    acc = ctx.accelerator
    step_index = ctx.start.step if ctx.start else 0
    tokens_seen = ctx.start.tokens_seen if ctx.start else 0
    loss_tokens_seen = ctx.start.loss_tokens_seen if ctx.start else 0
    train_seconds = ctx.start.elapsed_seconds if ctx.start else 0.0
    history: list[tuple[int, str, float]] = []
    cpu_seconds = 0.0
    latest: dict[str, float] = {}
    total_steps = len(ctx.plan.steps)
    status = "completed"
    stopped_early = False
    best = BestTracker(
        ctx.settings.early_stopping_patience,
        ctx.settings.early_stopping_min_delta,
        keep_weights=ctx.settings.keep_best,
        metric=ctx.probe.name if ctx.probe is not None else "eval_loss",
        higher_is_better=ctx.probe.higher_is_better if ctx.probe is not None else False,
    )
    if ctx.start is not None:
        best.load(ctx.checkpoint_root.parent, ctx.start.step)

    eval_seconds = 0.0

    def timed_evaluation() -> dict[str, float]:
        nonlocal eval_seconds
        began = time.perf_counter()
        values = evaluate(ctx)
        eval_seconds += time.perf_counter() - began
        return values

    def record(step: int, values: dict[str, float]) -> None:
        latest.update(values)
        history.extend((step, k, v) for k, v in values.items())
        if ctx.log_metrics is not None and acc.is_main_process:
            ctx.log_metrics(step, values)
        if "eval_loss" in values:
            best.observe(step, values, ctx.model)

    def checkpoint(step: int) -> None:
        state = CheckpointState(step, ctx.plan.digest, tokens_seen, loss_tokens_seen, train_seconds)
        save_checkpoint(
            ctx.checkpoint_root,
            state,
            accelerator=acc,
            model=ctx.model,
            optimizer=ctx.optimizer,
            scheduler=ctx.scheduler,
            keep=ctx.settings.keep_checkpoints,
        )
        if acc.is_main_process:
            best.save(ctx.checkpoint_root.parent, step)

    if ctx.start is None and ctx.eval_items and ctx.settings.eval_every_steps:
        record(0, timed_evaluation())  # the starting point of the eval curve
    with stop_requests() as stop, progress_bar(quiet=ctx.quiet or not acc.is_main_process) as bar:
        task = bar.add_task("training", total=total_steps, completed=step_index, status="")
        while step_index < total_steps:
            step = ctx.plan.steps[step_index]
            began, cpu_began = time.perf_counter(), time.process_time()
            values = train_step(ctx, step)
            elapsed = time.perf_counter() - began
            cpu_seconds += time.process_time() - cpu_began
            step_index += 1
            train_seconds += elapsed
            tokens_seen += int(values.pop("tokens"))
            loss_tokens_seen += step.loss_tokens
            values |= {
                "epoch": step_index / ctx.plan.steps_per_epoch,
                "tokens_per_second": step.tokens / elapsed,
                "loss_tokens_per_second": step.loss_tokens / elapsed,
            }
            if (
                ctx.eval_items
                and ctx.settings.eval_every_steps
                and (step_index % ctx.settings.eval_every_steps == 0 or step_index == total_steps)
            ):
                values |= timed_evaluation()
            record(step_index, values)
            bar.update(task, completed=step_index, status=_status(values))
            if not math.isfinite(values["loss"]):
                raise FloatingPointError(
                    f"the loss became {values['loss']} at step {step_index}; lower train.learning_rate"
                )
            stop_now = _agree(acc, stop["stop"])
            if step_index % ctx.settings.save_every_steps == 0 or (stop_now and step_index < total_steps):
                checkpoint(step_index)
            if ctx.crash_after_step is not None and step_index >= ctx.crash_after_step:
                raise SimulatedCrash(f"simulated crash after step {step_index}")
            if stop_now and step_index < total_steps:
                status = "interrupted"
                break
            if best.should_stop and step_index < total_steps:
                stopped_early = True
                break
    if ctx.eval_items and not ctx.settings.eval_every_steps and status == "completed":
        record(step_index, timed_evaluation())
    restored = False
    if status == "completed" and ctx.settings.keep_best and best.step is not None and best.step != step_index:
        restored = best.restore_into(ctx.model)
    return LoopResult(
        status,
        step_index,
        latest,
        history,
        train_seconds,
        tokens_seen,
        loss_tokens_seen,
        cpu_seconds=cpu_seconds,
        eval_seconds=eval_seconds,
        stopped_early=stopped_early,
        best_step=best.step,
        best_eval_loss=best.eval_loss if best.step is not None else None,
        best_metric=best.metric,
        best_value=best.value if best.step is not None else None,
        restored_best=restored,
    )


def _agree(accelerator: Any, requested: bool) -> bool:
    """Every process stops at the same step if any of them was asked to."""
    if accelerator.num_processes == 1:
        return requested
    import torch

    flag = torch.tensor([1.0 if requested else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(flag, reduction="sum").item() > 0)


def _status(values: dict[str, float]) -> str:
    parts = [f"loss {values['loss']:.4f}"]
    if "eval_loss" in values:
        parts.append(f"eval {values['eval_loss']:.4f}")
    parts.append(f"lr {values['learning_rate']:.2e}")
    parts.append(f"{values['tokens_per_second']:,.0f} tok/s")
    return " · ".join(parts)
