"""Turn canonical records into token ids and labels, deciding which tokens carry loss.

Assistant-only masking works for every chat template, including those without ``{% generation %}``
markers: the data stage's :func:`~tuneloop.data.template.assistant_token_mask` finds each assistant
turn's character span by rendering the conversation's prefixes (``messages[:i]`` with the generation
prompt, then ``messages[:i+1]``) and maps it to tokens through the offsets of one tokenization of the
whole text, so token boundaries are exactly those the model sees. The turn's end-of-turn token
(``<|im_end|>`` for ChatML) is inside the span and therefore trained: a model that never learns it
never stops. Labels are never derived from the pad id (it equals the EOS id for many models).

The first token of every sequence is never a label, so sequences packed side by side never predict
across a boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tuneloop.config.train import LossMasking, TrainSection
from tuneloop.data.records import Conversation, Message, Preference, Record, TextDocument, messages_as_dicts
from tuneloop.errors import InvalidInput, Location

DEFAULT_LOSS_MASKING: LossMasking = TrainSection.model_fields["loss_masking"].default
"""``train.loss_masking``'s default (the config owns it)."""

IGNORE = -100
"""Label value of tokens that carry no loss (PyTorch's cross-entropy ignore index)."""


@dataclass
class TokenizedSequence:
    """One sequence: its ids, its labels (``IGNORE`` where no loss) and where it came from."""

    input_ids: list[int]
    labels: list[int]
    source: str
    truncated: bool = False

    @property
    def num_loss_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class TrainingItem:
    """What one training example contributes: one sequence (sft, cpt), a chosen and a rejected
    sequence (dpo, orpo), or a completion and its mismatched KL sequence (kto)."""

    sequences: list[TokenizedSequence]
    source: str
    trained_sequences: int = 1
    """How many leading sequences carry a training signal (2 for a preference pair; the KL sequence
    of a KTO item is only a reference point)."""
    desirable: bool | None = None
    """KTO only: whether the completion is a desirable (chosen) one."""

    @property
    def num_tokens(self) -> int:
        return sum(len(s) for s in self.sequences)

    @property
    def num_loss_tokens(self) -> int:
        return sum(s.num_loss_tokens for s in self.sequences[: self.trained_sequences])


class ChatRenderer:
    """Renders conversations with a tokenizer's chat template and labels the trained turns.

    The spans come from the data stage's :func:`tuneloop.data.template.assistant_token_mask` (the
    same masks its token statistics report), applied to a copy of the messages in which every turn
    that must not be trained has ``weight: 0``.
    """

    def __init__(self, tokenizer: Any, *, max_length: int, system_prompt: str | None = None) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise InvalidInput(
                "no_chat_template",
                "the tokenizer has no chat template; set model.chat_template in tuneloop.yaml or train "
                "with method: cpt on raw text",
                Location(field="model.chat_template"),
            )
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.system_prompt = system_prompt
        self.inexact = 0
        """Sequences whose template re-renders earlier turns, so spans came from token counts."""

    def with_system(self, messages: list[Message]) -> list[Message]:
        """Prepend the project's system prompt to conversations that have none of their own."""
        if self.system_prompt and (not messages or messages[0].role != "system"):
            return [Message(role="system", content=self.system_prompt), *messages]
        return messages

    def tokenize(
        self,
        messages: list[Message],
        trained: list[bool],
        source: str,
        tools: list[dict[str, Any]] | None = None,
    ) -> TokenizedSequence:
        """Token ids of the rendered conversation, labelled on the turns marked ``trained``."""
        from tuneloop.data.template import assistant_token_mask

        masked = [
            m if keep else m.model_copy(update={"weight": 0})
            for m, keep in zip(messages, trained, strict=True)
        ]
        ids, mask, exact = assistant_token_mask(self.tokenizer, masked, tools)
        self.inexact += not exact
        labels = [token if keep else IGNORE for token, keep in zip(ids, mask, strict=True)]
        return self.finish(list(ids), labels, source)

    def tokenize_all(
        self, messages: list[Message], source: str, tools: list[dict[str, Any]] | None = None
    ) -> TokenizedSequence:
        """Every token of the rendered conversation is trained (``loss_masking: full``)."""
        from tuneloop.models import render_chat

        text = render_chat(self.tokenizer, messages_as_dicts(messages), tools=tools)
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return self.finish(ids, list(ids), source)

    def finish(self, ids: list[int], labels: list[int], source: str) -> TokenizedSequence:
        truncated = len(ids) > self.max_length
        ids, labels = ids[: self.max_length], labels[: self.max_length]
        if labels:
            labels[0] = IGNORE
        return TokenizedSequence(ids, labels, source, truncated)


def trained_turns(messages: list[Message], masking: LossMasking) -> list[bool]:
    """Which messages carry loss: assistant turns (all, or only the last one), never weight-0 ones."""
    assistant = [i for i, m in enumerate(messages) if m.role == "assistant"]
    last = assistant[-1] if assistant else -1
    marks = []
    for index, message in enumerate(messages):
        keep = message.role == "assistant" and message.weight != 0
        if masking == "completion_only":
            keep = keep and index == last
        marks.append(keep)
    return marks


def tokenize_conversation(
    renderer: ChatRenderer, record: Conversation, masking: LossMasking = DEFAULT_LOSS_MASKING
) -> TokenizedSequence:
    """A chat example with loss on its assistant turns (or on every token with ``full``)."""
    messages = renderer.with_system(record.messages)
    source = str(record.source)
    if masking == "full":
        return renderer.tokenize_all(messages, source, record.tools)
    return renderer.tokenize(messages, trained_turns(messages, masking), source, record.tools)


def tokenize_completion(
    renderer: ChatRenderer, prompt: list[Message], completion: list[Message], source: str
) -> TokenizedSequence:
    """Prompt plus completion turns, with loss on the completion's assistant turns only."""
    messages = renderer.with_system([*prompt, *completion])
    first = len(messages) - len(completion)
    marks = [index >= first and m.role == "assistant" and m.weight != 0 for index, m in enumerate(messages)]
    return renderer.tokenize(messages, marks, source)


def tokenize_document(tokenizer: Any, record: TextDocument, max_length: int) -> list[TokenizedSequence]:
    """Raw text for continued pre-training: every token is trained, EOS closes the document, and a
    document longer than ``max_length`` is cut into several sequences (none is thrown away)."""
    ids = list(tokenizer(record.text, add_special_tokens=False)["input_ids"])
    if tokenizer.bos_token_id is not None and getattr(tokenizer, "add_bos_token", False):
        ids = [tokenizer.bos_token_id, *ids]
    ids.append(tokenizer.eos_token_id)
    chunks = []
    for start in range(0, len(ids), max_length):
        piece = ids[start : start + max_length]
        if len(piece) < 2:
            continue
        labels = list(piece)
        labels[0] = IGNORE
        chunks.append(TokenizedSequence(piece, labels, f"{record.source}#{start // max_length}"))
    return chunks


def build_items(
    records: Sequence[Record],
    tokenizer: Any,
    *,
    method: str,
    max_length: int,
    masking: LossMasking,
    system_prompt: str | None = None,
    seed: int = 0,
) -> list[TrainingItem]:
    """Tokenize records for ``method``; raises when a record's kind does not fit the method."""
    from tuneloop.train.methods import TokenizeOptions, get_method

    spec = get_method(method)
    for record in records:
        if record.kind not in spec.record_kinds:
            source = getattr(record, "source", None)
            raise InvalidInput(
                "wrong_record_kind",
                f"method '{method}' trains on {spec.trains_on}, but this record is a {record.kind}",
                Location(source.file if source else None, source.line if source else None, "train.method"),
            )
    options = TokenizeOptions(tokenizer, max_length, masking, system_prompt, seed)
    return spec.tokenize(list(records), options)


def preference_pair_items(records: list[Preference], renderer: ChatRenderer) -> list[TrainingItem]:
    """A chosen and a rejected sequence per record (dpo, orpo), both trained."""
    return [
        TrainingItem(
            [
                tokenize_completion(renderer, r.prompt, r.chosen, str(r.source)),
                tokenize_completion(renderer, r.prompt, r.rejected, str(r.source)),
            ],
            str(r.source),
            trained_sequences=2,
        )
        for r in records
    ]
