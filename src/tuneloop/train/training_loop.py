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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tuneloop.progress import SILENT
from tuneloop.train.checkpoint import CheckpointState, save_checkpoint
from tuneloop.train.early_stopping import BestTracker
from tuneloop.train.steps import LoopContext, evaluate, train_step


class SimulatedCrash(RuntimeError):
    """Raised by ``crash_after_step`` (tests): the process dies as if killed, without cleanup."""


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


@contextlib.contextmanager
def stop_requests() -> Iterator[dict[str, bool]]:
    """Turn the first Ctrl-C / SIGTERM into a request to stop after the current step."""
    flag = {"stop": False}
    previous: dict[signal.Signals, Any] = {}

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
    progress = ctx.progress if acc.is_main_process else SILENT
    bar = progress.task("training", total=total_steps, completed=step_index, transient=False)
    with stop_requests() as stop, bar as task:
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
            task.update(completed=step_index, status=_status(values))
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
