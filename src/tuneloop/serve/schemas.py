"""The OpenAI request bodies this server accepts, and the responses it sends.

Requests are pydantic models (``extra="forbid"``). Parameters OpenAI defines that this server does not
implement (tools, logprobs, response_format ...) are refused with a 400 naming the parameter unless
they carry their neutral value (``logprobs: false``, ``presence_penalty: 0``), so a client never
silently gets something other than what it asked for.

Responses name the exact version that answered: ``model`` is the exact reference (``support:3``,
``base:<id>``; the openai SDK accepts any string there), ``system_fingerprint`` is ``tl-`` plus the
hash of the weights, and the ``X-Tuneloop-Model-Version`` header repeats the reference.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tuneloop.serve.backend import Completion, Target
from tuneloop.serve.errors import ApiError, unsupported_parameter, validation_error

# OpenAI parameters we do not implement -> the values that mean "not used" (accepted and ignored).
_UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    "tools": (None, []),
    "tool_choice": (None, "none"),
    "functions": (None, []),
    "function_call": (None, "none"),
    "parallel_tool_calls": (None,),
    "logprobs": (None, False, 0),
    "top_logprobs": (None, 0),
    "response_format": (None, {"type": "text"}),
    "logit_bias": (None, {}),
    "presence_penalty": (None, 0, 0.0),
    "frequency_penalty": (None, 0, 0.0),
    "audio": (None,),
    "modalities": (None, ["text"]),
    "prediction": (None,),
    "reasoning_effort": (None,),
    "web_search_options": (None,),
    "best_of": (None, 1),
    "echo": (None, False),
    "suffix": (None, ""),
}
RequestT = TypeVar("RequestT", bound=BaseModel)

# Accepted and ignored: they change nothing about the answer.
_IGNORED = ("metadata", "store", "service_tier", "prompt_cache_key", "safety_identifier")


class StreamOptions(BaseModel):
    # Stream options only shape the transport (usage chunk, obfuscation padding): unknown ones are
    # harmless to ignore.
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=500)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    seed: int | None = None
    n: int = Field(default=1, ge=1, le=16)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, max_length=500)

    def stop_strings(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        stops = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        return tuple(s for s in stops if s)

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def requested_max_tokens(self) -> int | None:
        return self.max_tokens


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = None

    def plain(self) -> dict[str, str]:
        """The message as the chat template takes it (``developer`` is the newer name of ``system``)."""
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class ChatCompletionRequest(_Request):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


class CompletionRequest(_Request):
    prompt: str | list[str]

    def prompt_text(self) -> str:
        if isinstance(self.prompt, str):
            return self.prompt
        if len(self.prompt) != 1:
            raise ApiError(
                400,
                "send one prompt per request (a list of exactly one string)",
                code="invalid_value",
                param="prompt",
            )
        return self.prompt[0]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    rating: float | None = None
    corrected_answer: str | None = None
    comment: str | None = Field(default=None, max_length=10_000)


def parse_request(model: type[RequestT], body: Any) -> RequestT:
    """Validate a decoded JSON body: unsupported OpenAI parameters -> 400, anything else invalid -> 422
    naming the field."""
    if not isinstance(body, dict):
        raise validation_error("the request body must be a JSON object", None)
    for name, neutral in _UNSUPPORTED.items():
        if name in body and body[name] not in neutral:
            raise unsupported_parameter(name)
    cleaned = {k: v for k, v in body.items() if k not in _UNSUPPORTED and k not in _IGNORED}
    try:
        return model.model_validate(cleaned)
    except ValidationError as err:
        first = err.errors()[0]
        param = _param_of(first["loc"])
        if first["type"] == "extra_forbidden":
            raise ApiError(
                400, f"unknown parameter '{param}'", code="unknown_parameter", param=param
            ) from None
        raise validation_error(f"{param or 'body'}: {first['msg']}", param) from None


def _param_of(loc: tuple[int | str, ...]) -> str | None:
    """``("messages", 0, "content")`` -> ``messages[0].content`` (skipping pydantic's union branch names)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("str", "list[TextPart]", "list[str]", "TextPart") or "[" in part:
            continue
        else:
            text += f".{part}" if text else part
    return text or None


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def model_fields(target: Target) -> dict[str, str]:
    """How a response names the exact version that answered."""
    return {"model": target.reference, "system_fingerprint": f"tl-{target.identity}"}


def chat_response(response_id: str, created: int, completion: Completion) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        **model_fields(completion.target),
        "choices": [
            {
                "index": c.index,
                "message": {"role": "assistant", "content": c.text},
                "finish_reason": c.finish_reason,
                "logprobs": None,
            }
            for c in completion.choices
        ],
        "usage": usage(completion.prompt_tokens, completion.completion_tokens),
    }


def completion_response(response_id: str, created: int, completion: Completion) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "text_completion",
        "created": created,
        **model_fields(completion.target),
        "choices": [
            {"index": c.index, "text": c.text, "finish_reason": c.finish_reason, "logprobs": None}
            for c in completion.choices
        ],
        "usage": usage(completion.prompt_tokens, completion.completion_tokens),
    }


def stream_chunk(
    chat: bool,
    response_id: str,
    created: int,
    target: Target,
    choices: list[dict[str, Any]],
    chunk_usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One SSE chunk; ``choices`` already in the endpoint's shape (see :func:`delta_choice`)."""
    chunk: dict[str, Any] = {
        "id": response_id,
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": created,
        **model_fields(target),
        "choices": choices,
    }
    if chunk_usage is not None:
        chunk["usage"] = chunk_usage
    return chunk


def delta_choice(
    chat: bool, index: int, text: str | None, finish_reason: str | None, *, role: bool = False
) -> dict[str, Any]:
    if not chat:
        return {"index": index, "text": text or "", "finish_reason": finish_reason, "logprobs": None}
    delta: dict[str, Any] = {"role": "assistant"} if role else {}
    if text is not None:
        delta["content"] = text
    return {"index": index, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
