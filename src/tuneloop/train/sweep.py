"""``tuneloop train --sweep lr``: short proxy runs pick the learning rate before the real run.

The derived rate is a good default, not the optimum for every task. A sweep trains a fresh adapter
for a few dozen steps on a slice of the training data at each rate of a small grid around the
current one (x1/4 to x4), measures the holdout loss of each, and hands the best rate to the full
run. Every candidate and its holdout loss are stored with the run's settings (``settings.sweep``)
and the choice is explained in ``settings.derived``. The proxies use the run's own batching,
schedule shape and loss, so they differ from the real run only in length and data.
"""

from __future__ import annotations

import dataclasses
import math
import random
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneloop.errors import InvalidInput, Location
from tuneloop.progress import SILENT, Progress

if TYPE_CHECKING:
    from tuneloop.train.batching import TrainingPlan
    from tuneloop.train.inputs import RunInputs
    from tuneloop.train.settings import TrainSettings
    from tuneloop.train.tokenize import TrainingItem

SWEEP_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
"""Multiples of the derived (or configured) rate that are tried."""
PROXY_EXAMPLES = 256
"""Training examples in the slice each proxy run sees."""
PROXY_STEPS = (10, 40)
"""Proxy length: a quarter of the real run's steps, within these bounds."""
PROXY_EVAL_EXAMPLES = 100
"""Holdout examples each proxy is scored on."""
SWEEPS = ("lr",)


def proxy_plan(
    items: list[TrainingItem], settings: TrainSettings, total_steps: int, *, world_size: int = 1
) -> tuple[list[TrainingItem], TrainingPlan]:
    """The slice of items and the batch plan every proxy run trains on."""
    from tuneloop.train.settings import plan_batches

    order = list(range(len(items)))
    random.Random(settings.seed).shuffle(order)
    subset = [items[i] for i in order[:PROXY_EXAMPLES]]
    steps = int(min(PROXY_STEPS[1], max(PROXY_STEPS[0], math.ceil(total_steps / 4))))
    return subset, plan_batches(subset, settings, max_steps=steps, world_size=world_size)


def sweep_learning_rate(inputs: RunInputs, *, progress: Progress = SILENT) -> list[dict[str, float]]:
    """Run the proxies, set ``inputs.settings.learning_rate`` to the best rate, return every result."""
    from tuneloop.train.methods import available_methods, get_method

    settings, prepared = inputs.settings, inputs.prepared
    if get_method(settings.method).needs_reference:
        supported = [m.name for m in available_methods().values() if not m.needs_reference]
        raise InvalidInput(
            "sweep_unsupported",
            f"--sweep lr supports {', '.join(supported)}; {settings.method} needs reference log-probabilities "
            "per proxy run; set train.learning_rate instead",
            Location(field="--sweep"),
        )
    if not prepared.eval_items:
        raise InvalidInput(
            "sweep_needs_holdout",
            "--sweep lr scores each rate by its holdout loss: give holdout data (data.holdout or --holdout)",
            Location(field="--sweep"),
        )
    if not _on_gpu():
        from tuneloop.train.session import warn_if_cpu_busy

        warn_if_cpu_busy(progress, settings.threads)
    items, plan = proxy_plan(prepared.items, settings, len(inputs.plan.steps))
    eval_items = prepared.eval_items[:PROXY_EVAL_EXAMPLES]
    centre = settings.learning_rate
    results: list[dict[str, float]] = []
    for number, factor in enumerate(SWEEP_FACTORS, start=1):
        rate = centre * factor
        loss = _proxy_run(inputs, rate, items, eval_items, plan)
        results.append({"learning_rate": rate, "eval_loss": loss})
        progress.info(
            f"sweep {number}/{len(SWEEP_FACTORS)}: learning rate {rate:.3g} -> holdout loss {loss:.4f} "
            f"({len(plan.steps)} steps on {len(items)} examples)"
        )
    finite = [r for r in results if math.isfinite(r["eval_loss"])]
    if not finite:
        raise InvalidInput(
            "sweep_diverged",
            "every learning rate of the sweep gave a non-finite holdout loss; set train.learning_rate lower",
            Location(field="train.learning_rate"),
        )
    best = min(finite, key=lambda r: r["eval_loss"])
    settings.learning_rate = best["learning_rate"]
    settings.sweep = results
    was = settings.derived.get("learning_rate", f"{centre:.3g}: configured")
    grid = ", ".join(f"{r['learning_rate']:.3g}" for r in results)
    settings.derived["learning_rate"] = (
        f"{best['learning_rate']:.3g}: lowest holdout loss ({best['eval_loss']:.4f}) of a sweep over "
        f"{grid} ({len(plan.steps)} steps on {len(items)} examples each); before the sweep {was}"
    )
    return results


def _proxy_run(inputs: RunInputs, rate: float, items: list[Any], eval_items: list[Any], plan: Any) -> float:
    """Train a fresh model on ``plan`` at ``rate`` and return its holdout loss."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from tuneloop.train.modeling import load_for_training, supports_label_logits
    from tuneloop.train.session import optimizer_and_scheduler
    from tuneloop.train.steps import LoopContext
    from tuneloop.train.training_loop import run_loop

    settings = dataclasses.replace(
        inputs.settings,
        learning_rate=rate,
        eval_every_steps=0,
        early_stopping_patience=0,
        keep_best=False,
        save_every_steps=len(plan.steps) + 1,
    )
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    torch.set_num_threads(settings.threads)
    set_seed(settings.seed)
    trained = load_for_training(
        inputs.choice.resolved,
        settings,
        device=accelerator.device.type,
        tokenizer=inputs.tokenizer,
        model_dtype=inputs.project.config.model.dtype,
    )
    optimizer, scheduler = optimizer_and_scheduler(trained.model, settings, len(plan.steps))
    model, optimizer = accelerator.prepare(trained.model, optimizer)
    with tempfile.TemporaryDirectory(prefix="tuneloop-sweep-") as scratch:
        ctx = LoopContext(
            accelerator=accelerator,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            items=items,
            plan=plan,
            settings=settings,
            pad_id=inputs.tokenizer.pad_token_id,
            checkpoint_root=Path(scratch) / "checkpoints",
            eval_items=eval_items,
            full_logits=not supports_label_logits(trained.model),
        )
        try:
            result = run_loop(ctx)  # ends with one holdout evaluation (eval_every_steps 0)
        except FloatingPointError:
            return math.inf
    return float(result.metrics["eval_loss"])


def _on_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())
