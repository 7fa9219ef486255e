"""Generate upstream: forward requests to an OpenAI-compatible engine (a vLLM server, another
``tuneloop serve``) while aliases, keys, canary and the request log stay in tuneloop.

The HTTP layer has already fixed the exact version (:class:`Target`); this backend only translates it
to the upstream's model name, forwards the request with ``httpx`` and maps the answer (and the
upstream's failures) back onto the :mod:`tuneloop.serve.backend` contract:

- chat messages go to ``/v1/chat/completions``, raw text to ``/v1/completions``; streams are read as
  server-sent events and passed on as :class:`Delta` pieces, with ``stream_options.include_usage`` so
  the token counts come from the upstream;
- at most ``max_in_flight`` requests are forwarded at once; beyond that, and when the upstream itself
  answers 429, :class:`QueueFull` (with the upstream's ``Retry-After`` when it sends one);
- an upstream 5xx, a refused connection or a broken stream become ``BackendError(502,
  "upstream_error")``; an upstream timeout ``BackendError(504, "upstream_timeout")``;
- cancelling a request (a client disconnect) closes its upstream request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import httpx

from tuneloop.config.serve import ServeSection
from tuneloop.errors import InvalidInput, Location
from tuneloop.serve.backend import (
    BackendError,
    Choice,
    Completion,
    Delta,
    Prompt,
    QueueFull,
    Sampling,
    StreamResult,
    Target,
)

Naming = Literal["vllm", "reference"]
"""How a :class:`Target` is named upstream: ``vllm`` for a fleet written by ``tuneloop deploy vllm``
(adapters under immutable ``<name>-v<N>``), ``reference`` for a ``tuneloop serve`` upstream (which
accepts the exact reference, ``support:3``)."""

DEFAULT_RETRY_AFTER_S = 1.0
"""Retry-After sent with our own 429s, and when an upstream 429 carries none."""


def vllm_model_name(name: str, version: int) -> str:
    """The immutable name a vLLM fleet serves a registered version under (``support-v3``)."""
    return f"{name}-v{version}"


def vllm_base_name(base_reference: str) -> str:
    """The name a vLLM fleet serves a base model under: its catalog id (``smollm2-135m-instruct``)
    for a ``base:`` reference, else the reference itself (a hub id or a directory)."""
    return base_reference.removeprefix("base:")


def upstream_model_name(target: Target, naming: Naming) -> str:
    """What to put in the upstream request's ``model`` field for ``target``."""
    if naming == "reference":
        return target.reference
    if target.version is None:
        return vllm_base_name(target.reference)
    return vllm_model_name(target.name, target.version)


class UpstreamBackend:
    """A :class:`tuneloop.serve.backend.Backend` that generates on an OpenAI-compatible server."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        naming: Naming = "vllm",
        model_name: Callable[[Target], str] | None = None,
        timeout_s: float = 120.0,
        max_in_flight: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``model_name`` overrides ``naming`` when the upstream names models some other way;
        ``transport`` is for tests that answer in-process."""
        if naming not in ("vllm", "reference"):
            raise ValueError(f"naming must be 'vllm' or 'reference', not {naming!r}")
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._model_name = model_name or (lambda target: upstream_model_name(target, naming))
        self._timeout_s = timeout_s
        self._max_in_flight = max_in_flight
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._in_flight = 0
        self._accepting = False
        self._idle = asyncio.Event()
        self._idle.set()

    @classmethod
    def from_section(cls, section: ServeSection, *, naming: Naming = "vllm") -> UpstreamBackend:
        """The backend ``tuneloop serve --upstream`` builds from the ``serve`` settings: the upstream
        URL, its key from ``upstream_api_key_env``, the request timeout, ``max_queue`` in flight."""
        if not section.upstream:
            raise InvalidInput("no_upstream", "serve.upstream is not set; pass --upstream URL")
        api_key = None
        if section.upstream_api_key_env:
            api_key = os.environ.get(section.upstream_api_key_env)
            if not api_key:
                raise InvalidInput(
                    "upstream_api_key_missing",
                    f"serve.upstream_api_key_env names ${section.upstream_api_key_env}, which is not set",
                    Location(field="serve.upstream_api_key_env"),
                )
        return cls(
            section.upstream,
            api_key=api_key,
            naming=naming,
            timeout_s=section.request_timeout_s,
            max_in_flight=section.max_queue,
        )

    # lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the connection pool and check the upstream answers ``GET /v1/models``."""
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(self._timeout_s, connect=min(self._timeout_s, 10.0)),
            limits=httpx.Limits(max_connections=self._max_in_flight, max_keepalive_connections=32),
            transport=self._transport,
        )
        try:
            response = await self._client.get("/v1/models")
            problem = (
                "" if response.status_code == 200 else f"answered GET /v1/models with {response.status_code}"
            )
        except httpx.HTTPError as exc:
            problem = f"is unreachable: {_describe(exc)}"
        if problem:
            await self._client.aclose()
            self._client = None
            raise _upstream_error(f"upstream {self.base_url} {problem}")
        self._accepting = True

    async def stop(self, drain_timeout_s: float) -> None:
        """Refuse new requests, let in-flight ones finish (up to ``drain_timeout_s``), close the pool."""
        self._accepting = False
        with contextlib.suppress(TimeoutError):  # what is still running is cut off when the pool closes
            await asyncio.wait_for(self._idle.wait(), timeout=drain_timeout_s)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def ready(self) -> bool:
        return self._accepting and self._client is not None

    @property
    def queue_depth(self) -> int:
        return self._in_flight

    # generation ------------------------------------------------------------------------------

    async def generate(self, target: Target, prompt: Prompt, sampling: Sampling) -> Completion:
        started = time.perf_counter()
        client = self._admit()
        try:
            path, payload = self._request(target, prompt, sampling, stream=False)
            try:
                response = await client.post(path, json=payload)
            except httpx.HTTPError as exc:
                raise self._transport_error(exc) from exc
            _raise_for_status(response.status_code, response.headers, response.text, self.base_url)
            body = _json(response.text, self.base_url)
            choices, prompt_tokens = _parse_completion(body, sampling.n, chat=prompt.messages is not None)
            return Completion(target, choices, prompt_tokens, time.perf_counter() - started)
        finally:
            self._release()

    async def stream(
        self, target: Target, prompt: Prompt, sampling: Sampling, result: StreamResult
    ) -> AsyncIterator[Delta]:
        started = time.perf_counter()
        client = self._admit()
        try:
            path, payload = self._request(target, prompt, sampling, stream=True)
            # Leaving this block (the stream ended, or the consumer closed the iterator early) closes
            # the upstream response, which is how a client disconnect reaches the upstream engine.
            async with client.stream("POST", path, json=payload) as response:
                if response.status_code != 200:
                    text = (await response.aread()).decode("utf-8", "replace")
                    _raise_for_status(response.status_code, response.headers, text, self.base_url)
                reader = _StreamReader(chat=prompt.messages is not None)
                async for line in response.aiter_lines():
                    for delta in reader.feed(line, self.base_url):
                        yield delta
                for delta in reader.finish(sampling.n):
                    yield delta
            result.prompt_tokens = reader.prompt_tokens
            result.choices = reader.choices
            result.latency_s = time.perf_counter() - started
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc
        finally:
            self._release()

    # helpers ---------------------------------------------------------------------------------

    def _admit(self) -> httpx.AsyncClient:
        if not self.ready or self._client is None:
            raise BackendError("the upstream backend is not running", status=503, code="not_ready")
        if self._in_flight >= self._max_in_flight:
            raise QueueFull(DEFAULT_RETRY_AFTER_S, f"{self._in_flight} requests already in flight upstream")
        self._in_flight += 1
        self._idle.clear()
        return self._client

    def _release(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    def _request(
        self, target: Target, prompt: Prompt, sampling: Sampling, *, stream: bool
    ) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {
            "model": self._model_name(target),
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "n": sampling.n,
        }
        if sampling.seed is not None:
            payload["seed"] = sampling.seed
        if sampling.stop:
            payload["stop"] = list(sampling.stop)
        if stream:
            payload["stream"] = True
            payload["stream_options"] = {"include_usage": True}
        if prompt.messages is not None:
            payload["messages"] = [dict(message) for message in prompt.messages]
            return "/v1/chat/completions", payload
        payload["prompt"] = prompt.text
        return "/v1/completions", payload

    def _transport_error(self, exc: httpx.HTTPError) -> BackendError:
        if isinstance(exc, httpx.TimeoutException):
            return BackendError(
                f"upstream {self.base_url} did not answer within {self._timeout_s:g}s",
                status=504,
                code="upstream_timeout",
            )
        return _upstream_error(f"upstream {self.base_url} failed: {_describe(exc)}")


class _StreamReader:
    """Turns the upstream's SSE lines into :class:`Delta` pieces and the final counts.

    A choice's finish piece is held back until the stream ends, because the upstream sends the exact
    token counts (``usage``) after the last finish reason; the finish piece then carries them.
    """

    def __init__(self, *, chat: bool) -> None:
        self.chat = chat
        self.prompt_tokens = 0
        self.choices: dict[int, Choice] = {}
        self._texts: dict[int, list[str]] = {}
        self._pieces: dict[int, int] = {}
        self._finish: dict[int, str] = {}
        self._usage_completion: int | None = None

    def feed(self, line: str, base_url: str) -> list[Delta]:
        if not line.startswith("data:"):
            return []
        data = line.removeprefix("data:").strip()
        if not data or data == "[DONE]":
            return []
        chunk = _json(data, base_url)
        if "error" in chunk:
            message = chunk["error"].get("message") if isinstance(chunk["error"], dict) else chunk["error"]
            raise _upstream_error(f"upstream {base_url} failed mid-stream: {message}")
        if usage := chunk.get("usage"):
            self.prompt_tokens = int(usage.get("prompt_tokens") or 0)
            self._usage_completion = int(usage.get("completion_tokens") or 0)
        deltas = []
        for raw in chunk.get("choices") or []:
            index = int(raw.get("index", 0))
            text = (raw.get("delta") or {}).get("content") if self.chat else raw.get("text")
            if text:
                self._texts.setdefault(index, []).append(text)
                self._pieces[index] = self._pieces.get(index, 0) + 1
                deltas.append(Delta(index, text, None, self._pieces[index]))
            if raw.get("finish_reason"):
                self._finish[index] = str(raw["finish_reason"])
        return deltas

    def finish(self, n: int) -> list[Delta]:
        indexes = sorted(set(self._texts) | set(self._finish) | set(range(n)))
        counts = _split_tokens(self._usage_completion, [self._pieces.get(i, 0) for i in indexes])
        deltas = []
        for index, tokens in zip(indexes, counts, strict=True):
            reason = _finish_reason(self._finish.get(index))
            self.choices[index] = Choice(index, "".join(self._texts.get(index, [])), reason, tokens)
            deltas.append(Delta(index, "", reason, tokens))
        return deltas


def _parse_completion(body: dict[str, Any], n: int, *, chat: bool) -> tuple[list[Choice], int]:
    usage = body.get("usage") or {}
    raw_choices = sorted(body.get("choices") or [], key=lambda c: int(c.get("index", 0)))
    texts = [((c.get("message") or {}).get("content") if chat else c.get("text")) or "" for c in raw_choices]
    total = usage.get("completion_tokens")
    counts = _split_tokens(None if total is None else int(total), [len(t.split()) for t in texts])
    choices = [
        Choice(int(c.get("index", i)), text, _finish_reason(c.get("finish_reason")), tokens)
        for i, (c, text, tokens) in enumerate(zip(raw_choices, texts, counts, strict=True))
    ]
    return choices, int(usage.get("prompt_tokens") or 0)


def _split_tokens(total: int | None, estimates: list[int]) -> list[int]:
    """Per-choice token counts. The upstream reports one total for all choices: a single choice gets
    it whole; several share it in proportion to ``estimates`` (their streamed pieces or words)."""
    if total is None:
        return estimates
    if len(estimates) == 1:
        return [total]
    weight = sum(estimates)
    if weight == 0:
        share = [total // len(estimates)] * len(estimates)
    else:
        share = [total * e // weight for e in estimates]
    share[0] += total - sum(share)
    return share


def _finish_reason(raw: object) -> str:
    return "length" if raw == "length" else "stop"


def _raise_for_status(status: int, headers: httpx.Headers, text: str, base_url: str) -> None:
    if status == 200:
        return
    if status == 429:
        raise QueueFull(_retry_after(headers.get("retry-after")), f"upstream {base_url} is at capacity")
    if status >= 500:
        raise _upstream_error(f"upstream {base_url} answered {status}: {_snippet(text)}")
    # A 4xx means the upstream refused this request (an unknown model, a bad parameter): the client
    # sees the upstream's own status and message.
    raise BackendError(f"upstream {base_url} refused the request ({status}): {_error_message(text)}",
                       status=status, code="upstream_rejected")  # fmt: skip


def _upstream_error(message: str) -> BackendError:
    """The upstream failed (not the client's fault): 502 for the client."""
    return BackendError(message, status=502, code="upstream_error")


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value is not None else DEFAULT_RETRY_AFTER_S
    except ValueError:  # an HTTP date; waiting the default is close enough
        return DEFAULT_RETRY_AFTER_S


def _json(text: str, base_url: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise _upstream_error(
            f"upstream {base_url} sent something that is not JSON: {_snippet(text)}"
        ) from None
    if not isinstance(value, dict):
        raise _upstream_error(f"upstream {base_url} sent JSON that is not an object")
    return value


def _error_message(text: str) -> str:
    try:
        error = json.loads(text).get("error")
    except (json.JSONDecodeError, AttributeError):
        return _snippet(text)
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return _snippet(text)


def _snippet(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
