"""sft: supervised fine-tuning on chat conversations, with loss on the assistant turns
(``train.loss_masking``). The loss is the mean negative log-likelihood over the step's loss tokens."""

from __future__ import annotations

from typing import Any

from tuneloop.config.train import PreferenceSettings
from tuneloop.data.records import Conversation
from tuneloop.train.learning_rates import width_scaled_rate
from tuneloop.train.methods import TokenizeOptions, TrainingMethod
from tuneloop.train.objectives import LabelLogProbs, ObjectiveOutput, StepTotals
from tuneloop.train.tokenize import ChatRenderer, TrainingItem, tokenize_conversation


def conversation_items(records: list[Conversation], options: TokenizeOptions) -> list[TrainingItem]:
    """One sequence per conversation, labelled as ``options.masking`` says."""
    renderer = ChatRenderer(
        options.tokenizer, max_length=options.max_length, system_prompt=options.system_prompt
    )
    return [
        TrainingItem([tokenize_conversation(renderer, r, options.masking)], str(r.source)) for r in records
    ]


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


METHOD = TrainingMethod(
    name="sft",
    help="supervised fine-tuning on chat conversations",
    record_kinds=("conversation",),
    trains_on="chat conversations",
    tokenize=conversation_items,
    objective=sft_objective,
    learning_rate=width_scaled_rate,
)
