"""Validate and normalise chat messages, reporting every problem with its field path.

The rules follow OpenAI's fine-tuning validator (same codes where they overlap) and add what chat
templates and trainers trip over: empty assistant turns, tool messages without a preceding call,
system messages in the middle of a conversation, weights other than 0/1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tuneloop.data.problems import ProblemLog
from tuneloop.data.records import Message

OPENAI_MESSAGE_KEYS = {
    "role",
    "content",
    "name",
    "weight",
    "tool_calls",
    "tool_call_id",
    "function_call",
    "refusal",
}
_STRICT_ROLES = {"system": "system", "user": "user", "assistant": "assistant"}
ROLE_ALIASES = {
    # ShareGPT and other community formats
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "chatgpt": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "tool",
    "observation": "tool",
    "function_response": "tool",
}


@dataclass
class RowContext:
    """Where problems of the row being normalised go."""

    log: ProblemLog
    file: str
    line: int

    def error(self, code: str, message: str, field: str | None = None) -> None:
        self.log.error(code, message, self.file, self.line, field)


def text_content(value: Any, field: str, ctx: RowContext) -> str | None:
    """Message content as text: a string, or OpenAI content parts of type ``text`` joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = []
        for index, part in enumerate(value):
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                ctx.error(
                    "unsupported_content",
                    f"content part of type {kind!r}: only text is supported",
                    f"{field}[{index}]",
                )
                return None
        return "".join(texts)
    ctx.error("missing_content", f"content is {type_name(value)}, expected text", field)
    return None


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        dict: "an object",
        list: "a list",
        str: "text",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _tool_calls(value: Any, field: str, ctx: RowContext) -> list[dict[str, Any]] | None:
    if not isinstance(value, list) or not value:
        ctx.error("invalid_tool_call", "tool_calls must be a non-empty list", field)
        return None
    ok = True
    for index, call in enumerate(value):
        where = f"{field}[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
            or not function["name"]
        ):
            ctx.error("invalid_tool_call", "a tool call needs function.name", where)
            ok = False
            continue
        arguments = function.get("arguments", "{}")
        if isinstance(arguments, str):
            try:
                json.loads(arguments)
            except json.JSONDecodeError:
                ctx.error(
                    "invalid_tool_call", "function.arguments is not valid JSON", f"{where}.function.arguments"
                )
                ok = False
        elif not isinstance(arguments, dict):
            ctx.error("invalid_tool_call", "function.arguments must be a JSON string or an object", where)
            ok = False
    return value if ok else None


def parse_message(
    raw: Any,
    field: str,
    ctx: RowContext,
    *,
    strict_keys: bool,
    role_key: str = "role",
    content_key: str = "content",
) -> Message | None:
    """One message, or None after reporting why it is invalid."""
    if (
        type(raw) is dict
        and len(raw) == 2
        and type(raw.get(content_key)) is str
        and type(raw.get(role_key)) is str
    ):
        # the common case, {"role": "user", "content": "..."}: no further checks can fail
        role = (_STRICT_ROLES if strict_keys else ROLE_ALIASES).get(raw[role_key])
        if role is not None and role != "tool":
            return Message(role=role, content=raw[content_key])
    if not isinstance(raw, dict):
        ctx.error("wrong_type", f"a message must be an object, got {type_name(raw)}", field)
        return None
    has_calls = raw.get("tool_calls") is not None or raw.get("function_call") is not None
    if role_key not in raw or (content_key not in raw and not has_calls):
        missing = role_key if role_key not in raw else content_key
        ctx.error("message_missing_key", f"message has no {missing!r}", field)
        return None
    if strict_keys:
        for key in sorted(set(raw) - OPENAI_MESSAGE_KEYS):
            ctx.error("message_unrecognized_key", f"unrecognized key {key!r} in message", f"{field}.{key}")
    role = ROLE_ALIASES.get(raw[role_key]) if isinstance(raw[role_key], str) else None
    if role is None or (
        strict_keys and raw[role_key] not in ("system", "user", "assistant", "tool", "function")
    ):
        ctx.error("unrecognized_role", f"unrecognized role {raw[role_key]!r}", f"{field}.{role_key}")
        return None
    content_value = raw.get(content_key)
    if content_value is None and has_calls:
        content: str | None = ""
    elif content_value is None:
        ctx.error("missing_content", "content is null", f"{field}.{content_key}")
        return None
    else:
        content = text_content(content_value, f"{field}.{content_key}", ctx)
    if content is None:
        return None
    return _build_message(raw, role, content, field, ctx)


def _build_message(
    raw: dict[str, Any], role: str, content: str, field: str, ctx: RowContext
) -> Message | None:
    ok = True
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        ctx.error("wrong_type", f"name is {type_name(name)}, expected text", f"{field}.name")
        ok = False
    weight = raw.get("weight")
    if weight is not None:
        if isinstance(weight, bool) or weight not in (0, 1):
            ctx.error("invalid_weight", f"weight must be 0 or 1, got {weight!r}", f"{field}.weight")
            ok = False
        elif role != "assistant":
            ctx.error("invalid_weight", "weight applies to assistant messages only", f"{field}.weight")
            ok = False
    tool_calls = None
    if raw.get("tool_calls") is not None:
        tool_calls = _tool_calls(raw["tool_calls"], f"{field}.tool_calls", ctx)
        ok = ok and tool_calls is not None
    elif isinstance(raw.get("function_call"), dict):
        # OpenAI's legacy single function call becomes a one-element tool_calls list.
        tool_calls = _tool_calls(
            [{"type": "function", "function": raw["function_call"]}], f"{field}.function_call", ctx
        )
        ok = ok and tool_calls is not None
    if raw.get("role") == "function" and name:
        raw = {**raw, "tool_call_id": raw.get("tool_call_id") or name}
    tool_call_id = raw.get("tool_call_id")
    if tool_call_id is not None and not isinstance(tool_call_id, str):
        ctx.error("wrong_type", "tool_call_id must be text", f"{field}.tool_call_id")
        ok = False
    if not ok:
        return None
    return Message(
        role=role,
        content=content,
        name=name,
        weight=None if weight is None else float(weight),
        tool_calls=tool_calls,
        tool_call_id=tool_call_id,
    )


def parse_messages(
    raw: Any,
    field: str,
    ctx: RowContext,
    *,
    strict_keys: bool = False,
    role_key: str = "role",
    content_key: str = "content",
    missing_code: str = "wrong_type",
) -> list[Message] | None:
    """A list of messages; every bad message is reported, None if any was bad."""
    if not isinstance(raw, list) or not raw:
        what = "empty" if isinstance(raw, list) else type_name(raw)
        ctx.error(missing_code, f"{field} must be a non-empty list of messages, got {what}", field)
        return None
    parsed = [
        parse_message(
            item, f"{field}[{i}]", ctx, strict_keys=strict_keys, role_key=role_key, content_key=content_key
        )
        for i, item in enumerate(raw)
    ]
    if any(m is None for m in parsed):
        return None
    return [m for m in parsed if m is not None]


def check_conversation(
    messages: list[Message], field: str, ctx: RowContext, *, need_assistant: bool = True
) -> bool:
    """Order, emptiness and trainability rules for a whole conversation; True when it passes."""
    ok = True
    seen_other = False
    calls_open = False
    for index, message in enumerate(messages):
        where = f"{field}[{index}]"
        if message.role == "system":
            if seen_other:
                ctx.error("role_order", "system message after the conversation started", where)
                ok = False
        else:
            seen_other = True
        if message.role == "tool" and not calls_open:
            ctx.error("role_order", "tool message without a preceding assistant tool call", where)
            ok = False
        calls_open = message.role == "tool" or bool(message.role == "assistant" and message.tool_calls)
        blank = not message.content.strip()
        if message.role == "assistant" and blank and not message.tool_calls:
            ctx.error(
                "empty_assistant_turn", "assistant message is empty and calls no tool", f"{where}.content"
            )
            ok = False
        elif message.role in ("user", "system") and blank:
            ctx.error("empty_content", f"{message.role} message is empty", f"{where}.content")
            ok = False
    if need_assistant:
        assistants = [m for m in messages if m.role == "assistant"]
        if not assistants:
            ctx.error("example_missing_assistant_message", "no assistant message to learn from", field)
            ok = False
        elif all(m.weight == 0 for m in assistants):
            ctx.error("example_missing_assistant_message", "every assistant message has weight 0", field)
            ok = False
    return ok


def plain_or_messages(
    raw: Any, field: str, ctx: RowContext, role: str, *, check: Callable[[list[Message]], bool] | None = None
) -> list[Message] | None:
    """A field that is either plain text (one message of ``role``) or a list of messages (TRL style)."""
    if isinstance(raw, str):
        if not raw.strip():
            code = "empty_assistant_turn" if role == "assistant" else "empty_content"
            ctx.error(code, f"{field} is empty", field)
            return None
        return [Message(role=role, content=raw)]
    if isinstance(raw, list):
        messages = parse_messages(raw, field, ctx)
        if messages is not None and check is not None and not check(messages):
            return None
        return messages
    ctx.error("wrong_type", f"{field} is {type_name(raw)}, expected text or a list of messages", field)
    return None
