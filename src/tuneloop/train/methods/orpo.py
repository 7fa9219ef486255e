"""orpo (Hong et al. 2024): chosen NLL ``- λ log σ(log odds_c - log odds_r)``, with per-token mean
log-probabilities; no reference model."""

from __future__ import annotations

from typing import Any

from tuneloop.config.train import PreferenceSettings
from tuneloop.train.learning_rates import PREFERENCE_RATES, fixed_rates
from tuneloop.train.methods import TrainingMethod
from tuneloop.train.methods.dpo import pair_items
from tuneloop.train.objectives import LabelLogProbs, ObjectiveOutput, StepTotals, preference_pairs


def orpo_objective(
    out: LabelLogProbs, totals: StepTotals, settings: PreferenceSettings, **_: Any
) -> ObjectiveOutput:
    import torch
    import torch.nn.functional as F

    chosen, rejected, chosen_len, rejected_len = preference_pairs(out)
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


METHOD = TrainingMethod(
    name="orpo",
    help="odds-ratio preference optimisation (no reference model)",
    record_kinds=("preference",),
    trains_on="preference pairs (prompt, chosen, rejected)",
    tokenize=pair_items,
    objective=orpo_objective,
    learning_rate=fixed_rates(**PREFERENCE_RATES),
)
