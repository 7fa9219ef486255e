"""Write canonical records in another format: OpenAI chat, TRL preference, OpenAI preference.

``tuneloop data convert IN --to openai-chat -o OUT``. Tags are written back as top-level fields.
A preference pair converts to OpenAI chat as its prompt plus the chosen answer (what SFT on the
preferred answers trains); a plain conversation has no rejected answer, so it cannot become a
preference pair, and raw text has no turns: both are reported as ``not_convertible``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuneloop.data.records import Message, Record


class NotConvertible(ValueError):
    """The record cannot be expressed in the target format."""


def _messages(messages: list[Message]) -> list[dict[str, Any]]:
    return [m.model_dump(exclude_none=True) for m in messages]


def to_openai_chat(record: Record) -> dict[str, Any]:
    if record.kind == "text":
        raise NotConvertible("raw text has no chat turns")
    if record.kind == "preference":
        messages = record.prompt + record.chosen
        out: dict[str, Any] = {"messages": _messages(messages)}
    else:
        out = {"messages": _messages(record.messages)}
        if record.tools:
            out["tools"] = record.tools
    return {**out, **record.tags}


def _preference_parts(record: Record) -> tuple[list[Message], list[Message], list[Message]]:
    if record.kind != "preference":
        raise NotConvertible(f"a {record.kind} has no rejected answer, so it cannot become a preference pair")
    return record.prompt, record.chosen, record.rejected


def to_trl_preference(record: Record) -> dict[str, Any]:
    prompt, chosen, rejected = _preference_parts(record)
    return {
        "prompt": _messages(prompt),
        "chosen": _messages(chosen),
        "rejected": _messages(rejected),
        **record.tags,
    }


def to_openai_preference(record: Record) -> dict[str, Any]:
    prompt, chosen, rejected = _preference_parts(record)
    return {
        "input": {"messages": _messages(prompt)},
        "preferred_output": _messages(chosen),
        "non_preferred_output": _messages(rejected),
        **record.tags,
    }


CONVERTERS: dict[str, Callable[[Record], dict[str, Any]]] = {
    "openai-chat": to_openai_chat,
    "trl-preference": to_trl_preference,
    "openai-preference": to_openai_preference,
}


def convert_record(record: Record, to: str) -> dict[str, Any]:
    """``record`` as a JSON object of format ``to``; raises :class:`NotConvertible`."""
    return CONVERTERS[to](record)
