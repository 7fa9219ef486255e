"""Answering one completion request: validate, route to an exact version, generate (whole or streamed),
log, and turn every failure into an OpenAI error object.

Generation runs in a task that is watched: past ``serve.request_timeout_s`` it is cancelled (504), and
when the client disconnects it is cancelled too (polled every :data:`POLL_S` seconds while waiting,
since the HTTP layer is not told otherwise). A stream's iterator is always closed, which cancels its
generation in the backend.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tuneloop.config.serve import ServeSection
from tuneloop.errors import NotFound, TuneloopError
from tuneloop.project import Project
from tuneloop.serve import schemas
from tuneloop.serve.backend import (
    Backend,
    BackendError,
    Delta,
    Prompt,
    QueueFull,
    Sampling,
    StreamResult,
    Target,
)
from tuneloop.serve.errors import (
    ApiError,
    bad_request,
    body_too_large,
    forbidden,
    internal_error,
    not_found,
    not_ready,
    rate_limited,
    timed_out,
)
from tuneloop.serve.keys import ApiKeyInfo
from tuneloop.serve.metrics import ServeMetrics
from tuneloop.serve.request_log import LoggedRequest, RequestLog
from tuneloop.serve.routing import Router

log = logging.getLogger("tuneloop.serve")
VERSION_HEADER = "X-Tuneloop-Model-Version"
POLL_S = 0.1
"""How often a waiting request checks whether its client is still connected."""
CLIENT_CLOSED = 499
"""Status logged for a request whose client went away (nginx's convention; never sent)."""

T = TypeVar("T")


class TimedOut(Exception):
    """The request's deadline passed."""


class ClientGone(Exception):
    """The client disconnected while its answer was being generated."""


@dataclass
class ServeState:
    """What every request of one app shares."""

    project: Project
    section: ServeSection
    backend: Backend
    router: Router
    request_log: RequestLog
    metrics: ServeMetrics
    insecure_no_auth: bool = False
    draining: bool = False
    """Set when shutdown begins: new requests get 503 while in-flight ones finish."""
    start_error: str | None = None

    def not_ready_reason(self) -> str:
        if self.start_error:
            return f"the model could not be loaded: {self.start_error}"
        return "the model is not loaded yet"

    async def read_json(self, request: Request) -> Any:
        """The body as JSON, refused with 413 past ``max_body_bytes`` (announced or actually read)."""
        limit = self.section.max_body_bytes
        announced = request.headers.get("content-length", "")
        if announced.isdigit() and int(announced) > limit:
            raise body_too_large(limit)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise body_too_large(limit)
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise bad_request("the request body is not valid JSON", code="invalid_json") from None


async def answer(request: Request, state: ServeState, key: ApiKeyInfo | None, *, chat: bool) -> Response:
    """Answer ``POST /v1/chat/completions`` (``chat``) or ``POST /v1/completions``."""
    received = time.perf_counter()
    if state.draining:
        raise not_ready("the server is shutting down")
    if not state.backend.ready:
        raise not_ready(state.not_ready_reason())
    raw = await state.read_json(request)
    body: schemas.ChatCompletionRequest | schemas.CompletionRequest
    if chat:
        body = schemas.parse_request(schemas.ChatCompletionRequest, raw)
        prompt = Prompt(messages=tuple(m.plain() for m in body.messages))
    else:
        body = schemas.parse_request(schemas.CompletionRequest, raw)
        prompt = Prompt(text=body.prompt_text())
    sampling = _sampling(body, state.section)
    if key is not None and not _in_scope(key, state.router, body.model):
        raise forbidden(f"the API key '{key.name}' may not call '{body.model}'", param="model")
    target = await _route(state, body.model, key)
    request.scope["tuneloop.model"] = target.reference
    call = _Call(state, request, key, chat, body, target, received)
    if body.stream:
        return await call.stream(prompt, sampling)
    return await call.complete(prompt, sampling)


def _in_scope(key: ApiKeyInfo, router: Router, model: str) -> bool:
    """Whether ``key`` may call ``model`` as written or as the reference a bare name stands for."""
    return key.may_call(model.strip()) or key.may_call(router.canonical_name(model))


def _sampling(
    body: schemas.ChatCompletionRequest | schemas.CompletionRequest, section: ServeSection
) -> Sampling:
    requested = body.requested_max_tokens()
    if requested is not None and requested > section.max_tokens_limit:
        param = "max_completion_tokens" if getattr(body, "max_completion_tokens", None) else "max_tokens"
        raise bad_request(
            f"{param} is {requested}; this server allows at most {section.max_tokens_limit}", param=param
        )
    max_tokens = requested if requested is not None else min(Sampling.max_tokens, section.max_tokens_limit)
    return Sampling(
        max_tokens=max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        stop=body.stop_strings(),
        n=body.n,
    )


async def _route(state: ServeState, model: str, key: ApiKeyInfo | None) -> Target:
    try:
        return await anyio.to_thread.run_sync(state.router.resolve, model, key.name if key else None)
    except NotFound as err:
        raise not_found(err.message, param="model", code="model_not_found") from None
    except TuneloopError as err:
        raise bad_request(err.message, param="model", code=err.code) from None


async def await_guarded(awaitable: Awaitable[T], request: Request, deadline: float) -> T:
    """Await ``awaitable`` in a task, cancelling it past ``deadline`` (loop time) or when the client
    disconnects."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(awaitable)
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimedOut
            done, _ = await asyncio.wait({task}, timeout=min(POLL_S, remaining))
            if done:
                return task.result()
            if await request.is_disconnected():
                raise ClientGone
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: a failure after the deadline is not worth a warning


_END = object()


async def _next(pieces: AsyncIterator[Delta]) -> Delta | object:
    try:
        return await pieces.__anext__()
    except StopAsyncIteration:
        return _END


async def _close(pieces: AsyncIterator[Delta]) -> None:
    closer = getattr(pieces, "aclose", None)
    if closer is not None:
        try:
            await closer()
        except Exception:
            log.exception("closing a generation stream failed")


@dataclass
class _Call:
    """One accepted request, routed to its exact version."""

    state: ServeState
    request: Request
    key: ApiKeyInfo | None
    chat: bool
    body: schemas.ChatCompletionRequest | schemas.CompletionRequest
    target: Target
    received: float
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self) -> None:
        self.id = f"{'chatcmpl' if self.chat else 'cmpl'}-{uuid.uuid4().hex}"

    @property
    def headers(self) -> dict[str, str]:
        return {VERSION_HEADER: self.target.reference}

    def deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.state.section.request_timeout_s

    async def complete(self, prompt: Prompt, sampling: Sampling) -> Response:
        generation = self.state.backend.generate(self.target, prompt, sampling)
        try:
            completion = await await_guarded(generation, self.request, self.deadline())
        except Exception as exc:
            raise self.failed(exc) from None
        build = schemas.chat_response if self.chat else schemas.completion_response
        choices = [
            {"index": c.index, "text": c.text, "finish_reason": c.finish_reason} for c in completion.choices
        ]
        self.log(200, completion.prompt_tokens, completion.completion_tokens, choices)
        return JSONResponse(build(self.id, self.created, completion), headers=self.headers)

    async def stream(self, prompt: Prompt, sampling: Sampling) -> Response:
        result = StreamResult()
        pieces = self.state.backend.stream(self.target, prompt, sampling, result).__aiter__()
        deadline = self.deadline()
        try:
            # The first piece is awaited before answering, so a full queue is still a 429.
            first = await await_guarded(_next(pieces), self.request, deadline)
        except Exception as exc:
            await _close(pieces)
            raise self.failed(exc) from None
        events = self._events(pieces, first, result, deadline, sampling.n)
        headers = {**self.headers, "Cache-Control": "no-cache"}
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)

    async def _events(
        self,
        pieces: AsyncIterator[Delta],
        piece: Delta | object,
        result: StreamResult,
        deadline: float,
        n: int,
    ) -> AsyncIterator[str]:
        texts, finish, tokens = [""] * n, [""] * n, [0] * n
        status, finished = 200, False
        try:
            if self.chat:
                yield self._sse([schemas.delta_choice(True, i, "", None, role=True) for i in range(n)])
            while isinstance(piece, Delta):
                texts[piece.index] += piece.text
                tokens[piece.index] = piece.completion_tokens
                finish[piece.index] = piece.finish_reason or finish[piece.index]
                yield self._sse(
                    [schemas.delta_choice(self.chat, piece.index, piece.text, piece.finish_reason)]
                )
                piece = await await_guarded(_next(pieces), self.request, deadline)
            if self.body.include_usage:
                yield self._sse([], schemas.usage(result.prompt_tokens, sum(tokens)))
            yield "data: [DONE]\n\n"
            finished = True
        except Exception as exc:
            error = self.failed(exc, log_entry=False)
            status = error.status
            if status != CLIENT_CLOSED:
                yield f"data: {json.dumps(error.body())}\n\n"
        finally:
            await _close(pieces)
            if not finished and status == 200:
                status = CLIENT_CLOSED
            choices = [{"index": i, "text": texts[i], "finish_reason": finish[i] or None} for i in range(n)]
            self.log(status, result.prompt_tokens, sum(tokens), choices)

    def _sse(self, choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> str:
        chunk = schemas.stream_chunk(self.chat, self.id, self.created, self.target, choices, usage)
        return f"data: {json.dumps(chunk)}\n\n"

    def failed(self, exc: Exception, *, log_entry: bool = True) -> ApiError:
        """The error answer for a failed generation (logged, with its status, unless told not to)."""
        if isinstance(exc, QueueFull):
            error = rate_limited(exc.retry_after_s, str(exc))
        elif isinstance(exc, BackendError):
            error = ApiError(exc.status, str(exc), code=exc.code)
        elif isinstance(exc, TimedOut):
            error = timed_out(self.state.section.request_timeout_s)
        elif isinstance(exc, ClientGone):
            error = ApiError(CLIENT_CLOSED, "the client closed the request", code="client_closed")
        elif isinstance(exc, ApiError):
            error = exc
        else:
            log.error("generation failed for %s", self.id, exc_info=exc)
            error = internal_error()
        if log_entry:
            self.log(error.status, 0, 0, [], error.message)
        else:
            self.request.scope["tuneloop.error"] = error.message
        return error

    def log(
        self,
        status: int,
        prompt_tokens: int,
        completion_tokens: int,
        choices: list[dict[str, Any]],
        error: str | None = None,
    ) -> None:
        self.request.scope["tuneloop.status"] = status
        if status == 200:
            self.state.metrics.tokens(self.target.reference, prompt_tokens, completion_tokens)
        self.state.request_log.submit(
            LoggedRequest(
                id=self.id,
                endpoint="chat.completions" if self.chat else "completions",
                model_requested=self.target.requested,
                model_name=self.target.name,
                model_reference=self.target.reference,
                model_version_id=self.target.version_id,
                alias=self.target.alias,
                api_key_name=self.key.name if self.key else None,
                status_code=status,
                stream=self.body.stream,
                latency_ms=(time.perf_counter() - self.received) * 1000,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                request=self.body.model_dump(mode="json", exclude_none=True),
                response={"choices": choices},
                error=error or self.request.scope.get("tuneloop.error"),
            )
        )
