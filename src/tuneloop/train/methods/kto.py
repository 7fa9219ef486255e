"""kto (Ethayarajh et al. 2024): desirable ``w_d (1 - σ(β (r - z)))``, undesirable
``w_u (1 - σ(β (z - r)))`` with ``r`` the log-ratio to the reference and ``z`` the batch KL estimate
from mismatched prompt/answer pairs (detached, clamped at 0)."""

from __future__ import annotations

import random
from typing import Any

from tuneloop.config.train import PreferenceSettings
from tuneloop.data.records import Preference
from tuneloop.errors import InvalidInput, Location
from tuneloop.train.batching import Batch
from tuneloop.train.learning_rates import PREFERENCE_RATES, fixed_rates
from tuneloop.train.methods import AuxiliaryInputs, TokenizeOptions, TrainingMethod
from tuneloop.train.objectives import LabelLogProbs, ObjectiveOutput, StepTotals, label_log_probs
from tuneloop.train.tokenize import ChatRenderer, TrainingItem, tokenize_completion


def kto_items(records: list[Preference], options: TokenizeOptions) -> list[TrainingItem]:
    """KTO learns from unpaired examples: each chosen answer is desirable, each rejected one
    undesirable. The KL reference point pairs each prompt with another example's completion (a fixed,
    seeded derangement), as TRL does within a batch, so reference log-probabilities can be computed
    once before training."""
    if len(records) < 2:
        raise InvalidInput(
            "too_few_records",
            "kto needs at least 2 preference records (its KL term pairs "
            "each prompt with another record's answer)",
            Location(field="data.train"),
        )
    renderer = ChatRenderer(
        options.tokenizer, max_length=options.max_length, system_prompt=options.system_prompt
    )
    order = list(range(len(records)))
    random.Random(options.seed).shuffle(order)
    other = {order[k]: order[(k + 1) % len(order)] for k in range(len(order))}
    items = []
    for desirable in (True, False):
        for index, record in enumerate(records):
            completion = record.chosen if desirable else record.rejected
            mismatched = records[other[index]].chosen if desirable else records[other[index]].rejected
            source = str(record.source)
            items.append(
                TrainingItem(
                    [
                        tokenize_completion(renderer, record.prompt, completion, source),
                        tokenize_completion(renderer, record.prompt, mismatched, source),
                    ],
                    source,
                    desirable=desirable,
                )
            )
    return items


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


def kl_reference_point(inputs: AuxiliaryInputs) -> dict[str, Any]:
    """The objective's ``kl_estimate`` from a forward pass over the mismatched (role 1) sequences."""
    kl_batch = inputs.collate_roles((1,))
    estimate = kto_kl_estimate(
        inputs.model, kl_batch, inputs.reference[:, 1], full_logits=inputs.full_logits, bf16=inputs.bf16
    )
    return {"kl_estimate": estimate}


METHOD = TrainingMethod(
    name="kto",
    help="Kahneman-Tversky optimisation on unpaired desirable / undesirable answers",
    record_kinds=("preference",),
    trains_on="preference pairs (prompt, chosen, rejected)",
    tokenize=kto_items,
    objective=kto_objective,
    learning_rate=fixed_rates(**PREFERENCE_RATES),
    needs_reference=True,
    forward_roles=(0,),
    auxiliary=kl_reference_point,
)
