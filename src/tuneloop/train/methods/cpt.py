"""cpt: continued pre-training on raw text (and conversations, every token trained). Documents are
cut into ``max_length`` chunks and packed by default; the loss is sft's (mean NLL per loss token)."""

from __future__ import annotations

from tuneloop.data.records import Conversation, TextDocument
from tuneloop.train.learning_rates import width_scaled_rate
from tuneloop.train.methods import TokenizeOptions, TrainingMethod
from tuneloop.train.methods.sft import sft_objective
from tuneloop.train.tokenize import ChatRenderer, TrainingItem, tokenize_conversation, tokenize_document


def text_items(records: list[TextDocument | Conversation], options: TokenizeOptions) -> list[TrainingItem]:
    """Each document's chunks, and each conversation rendered with loss on every token."""
    items = []
    for record in records:
        if isinstance(record, Conversation):
            renderer = ChatRenderer(
                options.tokenizer, max_length=options.max_length, system_prompt=options.system_prompt
            )
            items.append(TrainingItem([tokenize_conversation(renderer, record, "full")], str(record.source)))
            continue
        items.extend(
            TrainingItem([s], s.source)
            for s in tokenize_document(options.tokenizer, record, options.max_length)
        )
    return items


METHOD = TrainingMethod(
    name="cpt",
    help="continued pre-training on raw text",
    record_kinds=("text", "conversation"),
    trains_on="raw text or conversations",
    tokenize=text_items,
    objective=sft_objective,
    learning_rate=width_scaled_rate,
    chat=False,
    packing=True,
    loss_masking="full",
)
