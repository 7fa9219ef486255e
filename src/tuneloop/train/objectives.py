"""Training objectives: one function per method, registered by name.

Every objective receives the label-position log-probabilities of a micro-batch (logits are computed
only where a label exists, see :func:`label_log_probs`) and returns its share of the optimizer step's
loss, already divided by the step's totals, so summing the micro-batches of a step (across all
processes) gives the exact loss of the whole step. Formulas follow the papers and TRL:

- sft / cpt: mean negative log-likelihood over the step's loss tokens.
- dpo (Rafailov et al. 2023): ``-log σ(β [(log π_c - log ref_c) - (log π_r - log ref_r)])`` per pair,
  with summed completion log-probabilities. The reference is the model before this run (for an
  adapter: the base, or the parent version), its log-probabilities computed once before training.
- orpo (Hong et al. 2024): chosen NLL ``- λ log σ(log odds_c - log odds_r)``, with per-token mean
  log-probabilities; no reference model.
- kto (Ethayarajh et al. 2024): desirable ``w_d (1 - σ(β (r - z)))``, undesirable
  ``w_u (1 - σ(β (z - r)))`` with ``r`` the log-ratio to the reference and ``z`` the batch KL
  estimate from mismatched prompt/answer pairs (detached, clamped at 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuneloop.config.train import PreferenceSettings
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
    """Forward pass computing logits only at label positions.

    transformers' ``logits_to_keep`` with a boolean [rows, length] mask applies the language-model
    head to the kept positions only: with a 49k-token vocabulary the head is a fifth of the model's
    FLOPs, and most chat tokens (system prompt, user turns) carry no loss. ``full_logits`` computes
    every position and selects afterwards (the fallback for models without ``logits_to_keep``).
    ``bf16`` runs the forward pass under bf16 autocast; the loss is always computed in fp32.
    A batch with a ``shared_prefix`` forwards that prefix once and the rows' suffixes from its KV
    cache (:mod:`tuneloop.train.prefix`), with the same loss and gradients.
    """
    import torch
    import torch.nn.functional as F

    from tuneloop.models.loading import autocast_context
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
    logits = logits.float()
    token_logp = -F.cross_entropy(logits, batch.targets, reduction="none")
    with torch.no_grad():
        correct = logits.argmax(dim=-1) == batch.targets
    return LabelLogProbs(token_logp, correct, batch)


def sft_objective(
    out: LabelLogProbs, totals: StepTotals, settings: PreferenceSettings, **_: Any
) -> ObjectiveOutput:
    nll = -out.token_logp.sum()
    n = float(out.token_logp.numel())
    return ObjectiveOutput(
        loss=nll / max(totals.loss_tokens, 1),
        metrics={"token_accuracy": float(out.correct.sum())},
        counts={"token_accuracy": n},
    )


def _pairs(out: LabelLogProbs) -> tuple[Any, Any, Any, Any]:
    """Chosen and rejected (summed log-prob, length) of each pair, in item order."""
    import torch

    sums, lengths = out.sequence_sums()
    roles = torch.tensor(out.batch.sequence_role, device=sums.device)
    return sums[roles == 0], sums[roles == 1], lengths[roles == 0], lengths[roles == 1]


def dpo_objective(
    out: LabelLogProbs, totals: StepTotals, settings: PreferenceSettings, reference: Any = None, **_: Any
) -> ObjectiveOutput:
    import torch.nn.functional as F

    chosen, rejected, _, _ = _pairs(out)
    ref_chosen, ref_rejected = reference[:, 0], reference[:, 1]
    margin = (chosen - ref_chosen) - (rejected - ref_rejected)
    losses = -F.logsigmoid(settings.beta * margin)
    n = float(margin.numel())
    return ObjectiveOutput(
        loss=losses.sum() / max(totals.items, 1),
        metrics={
            "reward_accuracy": float((margin.detach() > 0).float().sum()),
            "reward_margin": float(settings.beta * margin.detach().sum()),
        },
        counts={"reward_accuracy": n, "reward_margin": n},
    )


def orpo_objective(
    out: LabelLogProbs, totals: StepTotals, settings: PreferenceSettings, **_: Any
) -> ObjectiveOutput:
    import torch
    import torch.nn.functional as F

    chosen, rejected, chosen_len, rejected_len = _pairs(out)
    mean_chosen, mean_rejected = chosen / chosen_len, rejected / rejected_len
    # log odds(p) = log p - log(1 - p), with p the per-token mean probability of the answer
    log_odds = (mean_chosen - mean_rejected) - (
        torch.log1p(-torch.exp(mean_chosen).clamp(max=1 - 1e-6))
        - torch.log1p(-torch.exp(mean_rejected).clamp(max=1 - 1e-6))
    )
    odds_losses = -F.logsigmoid(log_odds)
    nll = -chosen.sum()
    loss = nll / max(totals.chosen_tokens, 1) + settings.orpo_lambda * odds_losses.sum() / max(
        totals.items, 1
    )
    n = float(log_odds.numel())
    return ObjectiveOutput(
        loss=loss,
        metrics={
            "nll": float(nll.detach()),
            "odds_ratio_loss": float(odds_losses.detach().sum()),
            "reward_accuracy": float((log_odds.detach() > 0).float().sum()),
        },
        counts={"nll": float(chosen_len.sum()), "odds_ratio_loss": n, "reward_accuracy": n},
    )


def kto_objective(
    out: LabelLogProbs,
    totals: StepTotals,
    settings: PreferenceSettings,
    reference: Any = None,
    kl_estimate: Any = None,
    **_: Any,
) -> ObjectiveOutput:
    import torch

    sums, _ = out.sequence_sums()
    log_ratio = sums - reference[:, 0]
    desirable = torch.tensor([bool(d) for d in out.batch.desirable], device=sums.device)
    z = kl_estimate
    beta = settings.beta
    losses = torch.where(
        desirable,
        settings.desirable_weight * (1 - torch.sigmoid(beta * (log_ratio - z))),
        settings.undesirable_weight * (1 - torch.sigmoid(beta * (z - log_ratio))),
    )
    n = float(losses.numel())
    return ObjectiveOutput(
        loss=losses.sum() / max(totals.items, 1),
        metrics={
            "kl": float(z) * n,
            "reward_accuracy": float(((log_ratio.detach() > z) == desirable).float().sum()),
        },
        counts={"kl": n, "reward_accuracy": n},
    )


def kto_kl_estimate(
    model: Any, kl_batch: Batch, reference_kl: Any, *, full_logits: bool = False, bf16: bool = False
) -> Any:
    """KTO's reference point z: mean log-ratio of mismatched prompt/answer pairs, clamped at 0 and
    without gradient (as in the paper and TRL)."""
    import torch

    with torch.no_grad():
        sums, _ = label_log_probs(model, kl_batch, full_logits=full_logits, bf16=bf16).sequence_sums()
        return (sums - reference_kl).mean().clamp(min=0)


Objective = Callable[..., ObjectiveOutput]

OBJECTIVES: dict[str, Objective] = {
    "sft": sft_objective,
    "cpt": sft_objective,
    "dpo": dpo_objective,
    "orpo": orpo_objective,
    "kto": kto_objective,
}
"""Method name -> objective; a new method is one function here plus its items in ``tokenize``."""

NEEDS_REFERENCE = {"dpo", "kto"}
"""Methods whose loss compares the policy with the model it started from."""
