"""Canonical records every stage works on, each remembering the file and line it came from.

Whatever the input format (OpenAI chat, ShareGPT, Alpaca, TRL preference, raw text ...), the data
stage normalises it into one of three records:

- :class:`Conversation` — messages with roles system/user/assistant/tool (SFT);
- :class:`Preference` — a prompt conversation with a chosen and a rejected answer (DPO/ORPO/KTO);
- :class:`TextDocument` — raw domain text for continued pre-training.

:func:`record_digest` hashes a record's content (not its source), which makes dataset versions
content-addressed: the same examples in another file or order give the same digests.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]


class SourceRef(BaseModel):
    """Where a record came from: a file and its 1-based line (the row number for CSV/Parquet)."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str
    name: str | None = None
    weight: float | None = None
    """Per-message training weight (OpenAI format: 0 = do not train on this assistant message)."""
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class Conversation(BaseModel):
    """A supervised example: a conversation whose assistant turns are the training targets."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["conversation"] = "conversation"
    messages: list[Message]
    tags: dict[str, str] = Field(default_factory=dict)
    """Labels such as category or intent, used for balance, stratified splits and per-category metrics."""
    tools: list[dict[str, Any]] | None = None
    """Tool (function) definitions offered to the model in this conversation."""
    source: SourceRef

    def prompt_messages(self) -> list[Message]:
        """Everything before the last assistant message (the input a model answers)."""
        last = max(
            (i for i, m in enumerate(self.messages) if m.role == "assistant"), default=len(self.messages)
        )
        return self.messages[:last]

    def final_answer(self) -> str | None:
        """Content of the last assistant message, if any."""
        answers = [m.content for m in self.messages if m.role == "assistant"]
        return answers[-1] if answers else None


class Preference(BaseModel):
    """A preference pair: the same prompt with a preferred and a dispreferred answer."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["preference"] = "preference"
    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    tags: dict[str, str] = Field(default_factory=dict)
    source: SourceRef

    def prompt_messages(self) -> list[Message]:
        return self.prompt

    def final_answer(self) -> str | None:
        return self.chosen[-1].content if self.chosen else None


class TextDocument(BaseModel):
    """A piece of raw domain text (continued pre-training), already chunked to a token budget."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["text"] = "text"
    text: str
    tags: dict[str, str] = Field(default_factory=dict)
    source: SourceRef

    def prompt_messages(self) -> list[Message]:
        return []

    def final_answer(self) -> str | None:
        return None


Record = Conversation | Preference | TextDocument


def record_content(record: Record) -> dict[str, Any]:
    """The record without its source: what makes two records the same example."""
    return record.model_dump(mode="json", exclude={"source"}, exclude_none=True)


def record_digest(record: Record) -> str:
    """sha256 of the record's canonical JSON content (source excluded)."""
    canonical = json.dumps(record_content(record), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def dataset_digest(records: list[Record]) -> str:
    """Content address of a dataset: sha256 over its records' digests, in order."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(record_digest(record).encode() + b"\n")
    return digest.hexdigest()


def messages_as_dicts(messages: list[Message]) -> list[dict[str, Any]]:
    """Messages as the plain dicts chat templates expect."""
    return [m.model_dump(exclude_none=True, exclude={"weight"}) for m in messages]
