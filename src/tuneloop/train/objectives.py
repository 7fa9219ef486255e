"""What every training objective shares: label-position log-probabilities and the output contract.

Every method's objective (in its module under :mod:`tuneloop.train.methods`) receives the
label-position log-probabilities of a micro-batch (logits are computed only where a label exists, see
:func:`label_log_probs`) and returns its share of the optimizer step's loss, already divided by the
step's totals, so summing the micro-batches of a step (across all processes) gives the exact loss of
the whole step. The formulas follow the papers and TRL and are documented with each method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuneloop.train.batching import Batch


@dataclass(frozen=True)
class StepTotals:
    """What a step's loss is normalised by, summed over the whole step (all processes)."""

    loss_tokens: int
    items: int
    chosen_tokens: int


@dataclass
class LabelLogProbs:
    """Per-label-token results of one forward pass."""

    token_logp: Any
    """[N] log-probability of each target token (float32)."""
    correct: Any
    """[N] bool: the arg-max prediction equals the target (no gradient)."""
    batch: Batch
    extras: dict[str, Any] = field(default_factory=dict)
    """What a method's own forward pass adds for its objective (per-token tensors, by name)."""

    def sequence_sums(self) -> tuple[Any, Any]:
        """Summed log-probability and label count of each sequence of the micro-batch."""
        import torch

        count = len(self.batch.sequence_item)
        index = self.batch.target_sequence
        sums = torch.zeros(count, dtype=self.token_logp.dtype, device=self.token_logp.device)
        sums = sums.index_add(0, index, self.token_logp)
        lengths = torch.zeros(count, dtype=self.token_logp.dtype, device=self.token_logp.device)
        lengths = lengths.index_add(0, index, torch.ones_like(self.token_logp))
        return sums, lengths.clamp(min=1)


@dataclass
class ObjectiveOutput:
    loss: Any
    """This micro-batch's share of the step loss (a scalar tensor with gradient)."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Sums over the micro-batch; the loop adds them up over the step and divides by ``counts``.
    (The step's ``loss`` metric is the sum of the ``loss`` tensors: exactly what was optimised.)"""
    counts: dict[str, float] = field(default_factory=dict)


def label_log_probs(
    model: Any, batch: Batch, *, full_logits: bool = False, bf16: bool = False
) -> LabelLogProbs:
    """Forward pass computing logits only at label positions (:func:`label_logits`), and the
    log-probability of each target token. Every built-in method's forward pass."""
    return log_probs_of_targets(label_logits(model, batch, full_logits=full_logits, bf16=bf16), batch)


def label_logits(model: Any, batch: Batch, *, full_logits: bool = False, bf16: bool = False) -> Any:
    """``[N, vocabulary]`` float32 logits at the batch's label positions.

    transformers' ``logits_to_keep`` with a boolean [rows, length] mask applies the language-model
    head to the kept positions only: with a 49k-token vocabulary the head is a fifth of the model's
    FLOPs, and most chat tokens (system prompt, user turns) carry no loss. ``full_logits`` computes
    every position and selects afterwards (the fallback for models without ``logits_to_keep``).
    ``bf16`` runs the forward pass under bf16 autocast; the loss is always computed in fp32.
    A batch with a ``shared_prefix`` forwards that prefix once and the rows' suffixes from its KV
    cache (:mod:`tuneloop.train.prefix`), with the same loss and gradients.
    """
    from tuneloop.models import autocast_context
    from tuneloop.train.prefix import shared_prefix_logits

    logits = None
    if batch.shared_prefix and not full_logits:
        logits = shared_prefix_logits(model, batch, bf16=bf16)
    if logits is None:
        inputs = {"input_ids": batch.input_ids, "use_cache": False}
        if batch.position_ids is not None:
            inputs["position_ids"] = batch.position_ids
        with autocast_context(batch.input_ids.device.type, enabled=bf16):
            if full_logits:
                logits = model(**inputs).logits[batch.logits_mask]
            else:
                logits = model(**inputs, logits_to_keep=batch.logits_mask).logits
    return logits.float()


def log_probs_of_targets(logits: Any, batch: Batch) -> LabelLogProbs:
    """Each target token's log-probability under ``logits`` (from :func:`label_logits`)."""
    import torch
    import torch.nn.functional as F

    token_logp = -F.cross_entropy(logits, batch.targets, reduction="none")
    with torch.no_grad():
        correct = logits.argmax(dim=-1) == batch.targets
    return LabelLogProbs(token_logp, correct, batch)


def preference_pairs(out: LabelLogProbs) -> tuple[Any, Any, Any, Any]:
    """Chosen and rejected (summed log-prob, length) of each pair, in item order."""
    import torch

    sums, lengths = out.sequence_sums()
    roles = torch.tensor(out.batch.sequence_role, device=sums.device)
    return sums[roles == 0], sums[roles == 1], lengths[roles == 0], lengths[roles == 1]


Forward = Callable[..., LabelLogProbs]
"""``forward(model, batch, *, full_logits, bf16) -> LabelLogProbs``: a method's forward pass."""

Objective = Callable[..., ObjectiveOutput]
"""``objective(out, totals, preference_settings, **extra) -> ObjectiveOutput``; ``extra`` holds
``reference`` (methods that need one) and the method's auxiliary inputs."""
