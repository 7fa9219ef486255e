"""Input formats: how each is recognised and normalised into canonical records.

:data:`FORMATS` is the registry (name -> :class:`FormatSpec`); adding a format is adding one entry.
A file's format is detected from the keys of its first examples: the format whose required keys are
all present. A file matching two formats or none is an error that names the keys seen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tuneloop.data.messages import (
    RowContext,
    check_conversation,
    parse_messages,
    plain_or_messages,
    text_content,
    type_name,
)
from tuneloop.data.readers import RawRow
from tuneloop.data.records import Conversation, Message, Preference, Record, SourceRef, TextDocument

Normaliser = Callable[[dict[str, Any], RowContext], "Record | None"]


@dataclass(frozen=True)
class FormatSpec:
    """One input format."""

    name: str
    description: str
    required: frozenset[str]
    optional: frozenset[str]
    normalise: Normaliser
    record_kind: str


def _source(ctx: RowContext) -> SourceRef:
    return SourceRef(file=ctx.file, line=ctx.line)


def _tools(row: dict[str, Any], ctx: RowContext) -> list[dict[str, Any]] | None:
    tools = row.get("tools")
    if tools is None and isinstance(row.get("functions"), list):
        tools = [{"type": "function", "function": f} for f in row["functions"]]
    if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
        ctx.error("wrong_type", "tools must be a list of objects", "tools")
        return None
    return tools


def _openai_chat(row: dict[str, Any], ctx: RowContext) -> Record | None:
    if "messages" not in row:
        ctx.error("missing_messages_list", "example has no 'messages' list", "messages")
        return None
    messages = parse_messages(
        row["messages"], "messages", ctx, strict_keys=True, missing_code="missing_messages_list"
    )
    if messages is None or not check_conversation(messages, "messages", ctx):
        return None
    return Conversation(messages=messages, tools=_tools(row, ctx), source=_source(ctx))


def _sharegpt(row: dict[str, Any], ctx: RowContext) -> Record | None:
    if "conversations" not in row:
        ctx.error("missing_key", "example has no 'conversations' list", "conversations")
        return None
    messages = parse_messages(
        row["conversations"], "conversations", ctx, role_key="from", content_key="value"
    )
    if messages is None:
        return None
    system = row.get("system")
    if isinstance(system, str) and system.strip() and messages[0].role != "system":
        messages = [Message(role="system", content=system), *messages]
    if not check_conversation(messages, "conversations", ctx):
        return None
    return Conversation(messages=messages, tools=_tools(row, ctx), source=_source(ctx))


def _required_text(
    row: dict[str, Any], key: str, ctx: RowContext, *, allow_empty: bool = False
) -> str | None:
    if key not in row or row[key] is None:
        ctx.error("missing_key", f"example has no {key!r}", key)
        return None
    value = row[key]
    if not isinstance(value, str):
        ctx.error("wrong_type", f"{key} must be text, got {type(value).__name__}", key)
        return None
    if not allow_empty and not value.strip():
        ctx.error(
            "empty_assistant_turn" if key in ("output", "completion") else "empty_content",
            f"{key} is empty",
            key,
        )
        return None
    return value


def _alpaca(row: dict[str, Any], ctx: RowContext) -> Record | None:
    instruction = _required_text(row, "instruction", ctx)
    output = _required_text(row, "output", ctx)
    extra = row.get("input") or ""
    if not isinstance(extra, str):
        ctx.error("wrong_type", "input must be text", "input")
        return None
    if instruction is None or output is None:
        return None
    user = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    messages = [Message(role="user", content=user), Message(role="assistant", content=output)]
    system = row.get("system")
    if isinstance(system, str) and system.strip():
        messages.insert(0, Message(role="system", content=system))
    return Conversation(messages=messages, source=_source(ctx))


def _prompt_completion(row: dict[str, Any], ctx: RowContext) -> Record | None:
    prompt = plain_or_messages(row.get("prompt"), "prompt", ctx, "user")
    completion = plain_or_messages(row.get("completion"), "completion", ctx, "assistant")
    if prompt is None or completion is None:
        return None
    messages = prompt + completion
    if not check_conversation(messages, "prompt+completion", ctx):
        return None
    return Conversation(messages=messages, tools=_tools(row, ctx), source=_source(ctx))


def _preference(
    prompt: list[Message],
    chosen: list[Message],
    rejected: list[Message],
    ctx: RowContext,
    fields: tuple[str, str],
) -> Record | None:
    ok = check_conversation(prompt + chosen, fields[0], ctx) & check_conversation(
        prompt + rejected, fields[1], ctx
    )
    if not ok:
        return None
    same = [m.content.strip() for m in chosen] == [m.content.strip() for m in rejected]
    if same:
        ctx.error("preference_identical", "chosen and rejected answers are identical", fields[1])
        return None
    return Preference(prompt=prompt, chosen=chosen, rejected=rejected, source=_source(ctx))


def _split_implicit_prompt(chosen: list[Message], rejected: list[Message]) -> int:
    """TRL's implicit prompt: the longest common message prefix that ends before the last assistant turn."""
    shared = 0
    while shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]:
        shared += 1
    return shared


def _trl_preference(row: dict[str, Any], ctx: RowContext) -> Record | None:
    chosen = plain_or_messages(row.get("chosen"), "chosen", ctx, "assistant")
    rejected = plain_or_messages(row.get("rejected"), "rejected", ctx, "assistant")
    if "prompt" in row:
        prompt = plain_or_messages(row["prompt"], "prompt", ctx, "user")
    else:
        prompt = []
        if chosen is not None and rejected is not None:
            shared = _split_implicit_prompt(chosen, rejected)
            prompt, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
            if not prompt:
                ctx.error("missing_key", "no 'prompt' and chosen/rejected share no prompt messages", "prompt")
                return None
    if prompt is None or chosen is None or rejected is None:
        return None
    return _preference(prompt, chosen, rejected, ctx, ("chosen", "rejected"))


def _openai_preference(row: dict[str, Any], ctx: RowContext) -> Record | None:
    source = row.get("input")
    if not isinstance(source, dict) or "messages" not in source:
        ctx.error("missing_messages_list", "input must be an object with a 'messages' list", "input")
        return None
    prompt = parse_messages(
        source["messages"], "input.messages", ctx, strict_keys=True, missing_code="missing_messages_list"
    )
    chosen = parse_messages(row.get("preferred_output"), "preferred_output", ctx, strict_keys=True)
    rejected = parse_messages(row.get("non_preferred_output"), "non_preferred_output", ctx, strict_keys=True)
    if prompt is None or chosen is None or rejected is None:
        return None
    record = _preference(prompt, chosen, rejected, ctx, ("preferred_output", "non_preferred_output"))
    return record


def _text(row: dict[str, Any], ctx: RowContext) -> Record | None:
    if "text" not in row:
        ctx.error("missing_key", "example has no 'text'", "text")
        return None
    text = text_content(row["text"], "text", ctx) if not isinstance(row["text"], list) else None
    if text is None:
        if isinstance(row["text"], list):
            ctx.error("wrong_type", "text must be a string", "text")
        return None
    if not text.strip():
        ctx.error("empty_content", "text is empty", "text")
        return None
    return TextDocument(text=text, source=_source(ctx))


def _spec(
    name: str, description: str, required: set[str], optional: set[str], fn: Normaliser, kind: str
) -> FormatSpec:
    return FormatSpec(name, description, frozenset(required), frozenset(optional), fn, kind)


FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        _spec("openai-chat", "OpenAI chat fine-tuning (messages with role/content, name, weight, tool calls)",
              {"messages"}, {"tools", "functions", "parallel_tool_calls"}, _openai_chat, "conversation"),
        _spec("openai-preference", "OpenAI preference fine-tuning (DPO)",
              {"input", "preferred_output", "non_preferred_output"}, set(), _openai_preference, "preference"),
        _spec("trl-preference", "TRL preference: prompt/chosen/rejected, plain text or conversational",
              {"chosen", "rejected"}, {"prompt"}, _trl_preference, "preference"),
        _spec("prompt-completion", "prompt/completion pairs, plain text or conversational (TRL)",
              {"prompt", "completion"}, {"tools"}, _prompt_completion, "conversation"),
        _spec("alpaca", "Alpaca: instruction, optional input, output (optional system)",
              {"instruction", "output"}, {"input", "system"}, _alpaca, "conversation"),
        _spec("sharegpt", "ShareGPT: conversations of {from, value} (human/gpt/system/tool)",
              {"conversations"}, {"system", "tools"}, _sharegpt, "conversation"),
        _spec("text", "raw domain text for continued pre-training: {text}, or .txt/.md documents",
              {"text"}, set(), _text, "text"),
    )
}  # fmt: skip


def matching_formats(keys: set[str]) -> list[str]:
    """Formats whose required keys are all in ``keys``."""
    return [name for name, spec in FORMATS.items() if spec.required <= keys]


@dataclass(frozen=True)
class Detection:
    """The outcome of format detection for one file."""

    format: str | None
    problem: tuple[str, str] | None = None
    """(code, message) when detection failed."""


def detect_format(rows: list[RawRow], sample: int = 50) -> Detection:
    """The format matched by most of the first ``sample`` object rows."""
    objects = [row.value for row in rows if isinstance(row.value, dict)][:sample]
    if not objects:
        return Detection(None)
    votes: Counter[tuple[str, ...]] = Counter(tuple(matching_formats(set(obj))) for obj in objects)
    best, _ = votes.most_common(1)[0]
    seen = sorted({key for obj in objects for key in obj})
    shown = ", ".join(seen[:20]) + (" ..." if len(seen) > 20 else "")
    if not best:
        matched = [formats for formats in votes if formats]
        if not matched:
            return Detection(
                None,
                (
                    "unknown_format",
                    f"no known format has the keys seen ({shown}); see `tuneloop data formats`",
                ),
            )
        best = max(matched, key=lambda formats: votes[formats])
    if len(best) > 1:
        return Detection(
            None, ("ambiguous_format", f"keys ({shown}) match {', '.join(best)}; choose one with --format")
        )
    return Detection(best[0])


def read_tags(row: dict[str, Any], tag_fields: list[str], ctx: RowContext) -> dict[str, str]:
    """Tag fields from the row's top level or its ``metadata`` object, as strings."""
    tags: dict[str, str] = {}
    given = row.get("metadata")
    metadata: dict[str, Any] = given if isinstance(given, dict) else {}
    for name in tag_fields:
        value = row.get(name, metadata.get(name))
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            tags[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            tags[name] = str(value)
        else:
            ctx.error("invalid_tag", f"tag {name!r} must be text, a number or a boolean", name)
    return tags


def normalise_row(row: RawRow, format_name: str, tag_fields: list[str], ctx: RowContext) -> Record | None:
    """Normalise one raw row with the given format; problems go to ``ctx``."""
    if not isinstance(row.value, dict):
        ctx.error("data_type", f"example is {type_name(row.value)}, expected a JSON object")
        return None
    record = FORMATS[format_name].normalise(row.value, ctx)
    if record is None:
        return None
    tags = read_tags(row.value, tag_fields, ctx)
    if tags:
        record.tags = tags  # a fresh record: setting the field in place avoids a copy per row
    return record
