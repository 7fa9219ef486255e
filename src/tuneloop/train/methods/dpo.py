"""dpo (Rafailov et al. 2023): ``-log σ(β [(log π_c - log ref_c) - (log π_r - log ref_r)])`` per pair,
with summed completion log-probabilities. The reference is the model before this run (for an adapter:
the base, or the parent version), its log-probabilities computed once before training."""

from __future__ import annotations

from typing import Any

from tuneloop.config.train import PreferenceSettings
from tuneloop.data.records import Preference
from tuneloop.train.learning_rates import PREFERENCE_RATES, fixed_rates
from tuneloop.train.methods import TokenizeOptions, TrainingMethod
from tuneloop.train.objectives import LabelLogProbs, ObjectiveOutput, StepTotals, preference_pairs
from tuneloop.train.tokenize import ChatRenderer, TrainingItem, preference_pair_items


def pair_items(records: list[Preference], options: TokenizeOptions) -> list[TrainingItem]:
    renderer = ChatRenderer(
        options.tokenizer, max_length=options.max_length, system_prompt=options.system_prompt
    )
    return preference_pair_items(records, renderer)


def dpo_objective(
    out: LabelLogProbs, totals: StepTotals, settings: PreferenceSettings, reference: Any = None, **_: Any
) -> ObjectiveOutput:
    import torch.nn.functional as F

    chosen, rejected, _, _ = preference_pairs(out)
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


METHOD = TrainingMethod(
    name="dpo",
    help="direct preference optimisation against the starting model",
    record_kinds=("preference",),
    trains_on="preference pairs (prompt, chosen, rejected)",
    tokenize=pair_items,
    objective=dpo_objective,
    learning_rate=fixed_rates(**PREFERENCE_RATES),
    needs_reference=True,
)
