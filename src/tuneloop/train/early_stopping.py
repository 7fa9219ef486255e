"""Early stopping and best-checkpoint selection on the holdout loss or the suite's primary metric.

The loop reports every holdout evaluation to a :class:`BestTracker`. It keeps a CPU copy of the
trainable weights of the best evaluation (for adapters a few megabytes), counts the evaluations
since, and says when ``patience`` of them in a row brought no improvement. At the end of the run the
loop puts the best weights back, so the registered version is the best one the run saw, and more
epochs than needed cost time, not quality.

"Best" is the lowest holdout loss, or the highest primary metric of the project's suite
(:mod:`tuneloop.evaluate.probe`) with ties broken by the holdout loss. With a task metric, a tie
still counts as progress (resets the patience) while the holdout loss falls by at least
:data:`LOSS_PROGRESS`: a metric that stays at 0.0 while the model learns the answers' format must not
end the run, and one that has plateaued while the loss only creeps down should.

The tracker is saved beside each resumable checkpoint (``best.pt``, tagged with the checkpoint's
step), so a resumed run keeps its best weights and its patience count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BEST_FILE = "best.pt"
LOSS_PROGRESS = 0.05
"""A tie on the task metric is progress while the holdout loss falls by at least this share (the
format-learning phase falls by tens of percent per evaluation; a converged run by a few)."""


def trainable_state(model: Any) -> dict[str, Any]:
    """A detached CPU copy of every trainable parameter, by name."""
    return {
        name: parameter.detach().to("cpu", copy=True)
        for name, parameter in model.named_parameters()
        if parameter.requires_grad
    }


def load_trainable_state(model: Any, weights: dict[str, Any]) -> None:
    """Copy ``weights`` (from :func:`trainable_state`) back into the model's parameters."""
    import torch

    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            parameters[name].copy_(value.to(parameters[name].device, parameters[name].dtype))


@dataclass
class BestTracker:
    """The best holdout evaluation so far and the patience count."""

    patience: int
    """Evaluations without improvement before stopping; 0 never stops."""
    min_delta: float = 0.0
    """The smallest change of the metric that counts as an improvement."""
    keep_weights: bool = True
    metric: str = "eval_loss"
    """What is compared: ``eval_loss`` (lower is better) or ``eval_<primary metric>``."""
    higher_is_better: bool = False
    step: int | None = None
    value: float = math.nan
    """The best evaluation's value of ``metric``."""
    eval_loss: float = math.inf
    since_best: int = 0
    weights: dict[str, Any] | None = field(default=None, repr=False)

    def observe(self, step: int, values: dict[str, float], model: Any) -> bool:
        """Record one evaluation (its metrics by name); True when it is the new best."""
        value, loss = float(values.get(self.metric, math.nan)), float(values.get("eval_loss", math.nan))
        if not math.isfinite(value):
            self.since_best += 1
            return False
        if self.step is None:
            self._take(step, value, loss, model, progressed=True)
            return True
        gain = value - self.value if self.higher_is_better else self.value - value
        if gain > self.min_delta:
            self._take(step, value, loss, model, progressed=True)
            return True
        if self.metric != "eval_loss" and gain == 0 and loss < self.eval_loss:
            # A tie goes to the lower loss; it is progress only while the loss falls substantially.
            progressed = loss < self.eval_loss * (1 - LOSS_PROGRESS)
            self._take(step, value, loss, model, progressed=progressed)
            return True
        self.since_best += 1
        return False

    def _take(self, step: int, value: float, loss: float, model: Any, *, progressed: bool) -> None:
        self.step, self.value, self.eval_loss = step, value, loss
        self.since_best = 0 if progressed else self.since_best + 1
        if self.keep_weights:
            self.weights = trainable_state(model)

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.since_best >= self.patience

    def restore_into(self, model: Any) -> bool:
        """Put the best weights back; False when there are none to restore."""
        if self.weights is None:
            return False
        load_trainable_state(model, self.weights)
        return True

    def save(self, directory: Path, checkpoint_step: int) -> None:
        """Write the tracker beside the checkpoint of ``checkpoint_step`` (temp file, then rename)."""
        import torch

        directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "checkpoint_step": checkpoint_step,
            "step": self.step,
            "value": self.value,
            "eval_loss": self.eval_loss,
            "since_best": self.since_best,
            "weights": self.weights,
        }
        tmp = directory / (BEST_FILE + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(directory / BEST_FILE)

    def load(self, directory: Path, checkpoint_step: int) -> bool:
        """Continue from the tracker saved with the checkpoint being resumed; False if there is none."""
        import torch

        path = directory / BEST_FILE
        if not path.is_file():
            return False
        payload = torch.load(path, weights_only=True)
        if payload.get("checkpoint_step") != checkpoint_step:
            return False
        self.step, self.value = payload["step"], float(payload["value"])
        self.eval_loss = float(payload["eval_loss"])
        self.since_best, self.weights = int(payload["since_best"]), payload["weights"]
        return True
