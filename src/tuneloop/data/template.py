"""Template-true token counts: render each example with the target model's chat template, tokenize,
and find which tokens the training loss sees.

:func:`assistant_token_mask` works for any chat template, without ``{% generation %}`` markers: it
renders the conversation up to each assistant turn (with the generation prompt) and up to the end of
that turn; the characters in between are the turn, mapped to tokens through the tokenizer's offsets.
The span ends at the end-of-turn marker (``<|im_end|>`` is trained, so the model learns to stop) and
excludes the whitespace the template puts after it. If a template re-renders earlier turns (so a
prefix is not a prefix of the whole), counts fall back to token-length differences and the example is
marked ``exact=False``. The trainer may reuse this function for its loss masks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuneloop.data.records import Message, Record, messages_as_dicts
from tuneloop.models import render_chat


@dataclass
class TokenizedExample:
    """Token counts of one example under the target chat template."""

    total: int
    """Tokens of the longest rendered sequence (for a preference: the longer of chosen and rejected)."""
    assistant: int
    """Tokens the loss sees (assistant turns with weight != 0; all tokens of raw text)."""
    processed: int
    """Tokens run through the model per epoch (chosen + rejected for a preference)."""
    lost_assistant: int = 0
    """Assistant tokens beyond ``max_length``."""
    final_answer_survives: bool = True
    """Whether the last assistant turn ends within ``max_length``."""
    exact: bool = True


def _render(tokenizer: Any, messages: list[dict[str, Any]], tools: Any, generation: bool) -> str:
    return render_chat(tokenizer, messages, tools=tools, ending="open" if generation else "closed")


def assistant_token_mask(
    tokenizer: Any, messages: list[Message], tools: list[dict[str, Any]] | None = None
) -> tuple[list[int], list[bool], bool]:
    """Token ids of the rendered conversation, a mask of the tokens the loss sees, and whether the
    mask is exact (see the module docstring)."""
    dicts = messages_as_dicts(messages)
    full = _render(tokenizer, dicts, tools, False)
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    mask = [False] * len(ids)
    exact = True
    for index, message in enumerate(messages):
        if message.role != "assistant" or message.weight == 0:
            continue
        before = _render(tokenizer, dicts[:index], tools, True) if index else ""
        after = _render(tokenizer, dicts[: index + 1], tools, False)
        if full.startswith(after) and after.startswith(before):
            start, end = len(before), len(after.rstrip())
            for position, (char_start, _) in enumerate(offsets):
                if start <= char_start < end:
                    mask[position] = True
        else:
            exact = False
            first = len(tokenizer(before, add_special_tokens=False)["input_ids"]) if before else 0
            last = len(tokenizer(after, add_special_tokens=False)["input_ids"])
            for position in range(first, min(last, len(mask))):
                mask[position] = True
    return ids, mask, exact


def tokenize_example(
    tokenizer: Any, record: Record, max_length: int, system_prompt: str | None = None
) -> TokenizedExample:
    """Counts for one record; raises whatever the chat template raises (the caller reports it)."""
    if record.kind == "text":
        ids = tokenizer(record.text, add_special_tokens=False)["input_ids"]
        total = len(ids) + 1  # the EOS appended between packed documents
        return TokenizedExample(total, total, total, max(0, total - max_length), total <= max_length)
    if record.kind == "preference":
        prompt = with_system_prompt(record.prompt, system_prompt)
        chosen = _counts(tokenizer, prompt + record.chosen, None, max_length)
        rejected = _counts(tokenizer, prompt + record.rejected, None, max_length)
        longest = chosen if chosen.total >= rejected.total else rejected
        return TokenizedExample(
            longest.total,
            chosen.assistant,
            chosen.total + rejected.total,
            max(chosen.lost_assistant, rejected.lost_assistant),
            chosen.final_answer_survives and rejected.final_answer_survives,
            chosen.exact and rejected.exact,
        )
    messages = with_system_prompt(record.messages, system_prompt)
    return _counts(tokenizer, messages, record.tools, max_length)


def with_system_prompt(messages: list[Message], system_prompt: str | None) -> list[Message]:
    """The conversation as training renders it: the project's system prompt first when it has none of
    its own (evaluation adds the same prompt the same way, see ``evaluate.items.build_conversation``)."""
    if system_prompt and (not messages or messages[0].role != "system"):
        return [Message(role="system", content=system_prompt), *messages]
    return messages


def _counts(tokenizer: Any, messages: list[Message], tools: Any, max_length: int) -> TokenizedExample:
    ids, mask, exact = assistant_token_mask(tokenizer, messages, tools)
    assistant = sum(mask)
    lost = sum(mask[max_length:])
    last_trained = max((i for i, m in enumerate(mask) if m), default=-1)
    return TokenizedExample(len(ids), assistant, len(ids), lost, last_trained < max_length, exact)


def percentiles(values: list[int] | list[float]) -> dict[str, float]:
    """min, p5, median, p95, max with linear interpolation (numpy's default, Excel's PERCENTILE.INC)."""
    if not values:
        return {}
    array = np.asarray(values, dtype=float)
    p5, p50, p95 = np.percentile(array, [5, 50, 95])
    return {
        "min": float(array.min()),
        "p5": float(p5),
        "median": float(p50),
        "p95": float(p95),
        "max": float(array.max()),
    }


@dataclass
class TokenReport:
    """Token counts of a dataset and the examples over the length limit."""

    examples: list[TokenizedExample | None]
    """Per record (None where the template failed)."""
    template_errors: list[tuple[int, str]]
    max_length: int

    @property
    def overlength(self) -> list[int]:
        return [i for i, e in enumerate(self.examples) if e is not None and e.total > self.max_length]

    def summary(self) -> dict[str, Any]:
        done = [e for e in self.examples if e is not None]
        total = sum(e.total for e in done)
        assistant = sum(e.assistant for e in done)
        return {
            "tokens": percentiles([e.total for e in done]),
            "assistant_tokens": percentiles([e.assistant for e in done]),
            "total_tokens": total,
            "processed_tokens": sum(e.processed for e in done),
            "assistant_token_share": assistant / total if total else 0.0,
            "max_length": self.max_length,
            "overlength": len(self.overlength),
            "inexact_masks": sum(1 for e in done if not e.exact),
        }


def token_report(
    tokenizer: Any,
    records: list[Record],
    max_length: int,
    system_prompt: str | None = None,
    progress: Callable[[], None] | None = None,
) -> TokenReport:
    """Tokenize every record; a template that rejects an example is reported, not raised."""
    import logging

    examples: list[TokenizedExample | None] = []
    errors: list[tuple[int, str]] = []
    # transformers warns for every sequence over model_max_length; over-length is our report's job
    quiet = logging.getLogger("transformers.tokenization_utils_base")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        _tokenize_all(tokenizer, records, max_length, system_prompt, progress, examples, errors)
    finally:
        quiet.setLevel(level)
    return TokenReport(examples, errors, max_length)


def _tokenize_all(tokenizer: Any, records: list[Record], max_length: int, system_prompt: str | None,
                  progress: Callable[[], None] | None, examples: list[TokenizedExample | None],
                  errors: list[tuple[int, str]]) -> None:  # fmt: skip
    for index, record in enumerate(records):
        try:
            examples.append(tokenize_example(tokenizer, record, max_length, system_prompt))
        except Exception as exc:  # jinja TemplateError and friends: the template rejects this example
            examples.append(None)
            errors.append((index, f"{type(exc).__name__}: {exc}"))
        if progress is not None:
            progress()
