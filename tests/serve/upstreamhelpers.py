"""A small fake OpenAI-compatible engine (what a vLLM server answers), run by uvicorn in a thread.

Its behaviour is chosen by the requested model name, so one server covers every test:
``overloaded`` answers 429 with ``Retry-After: 7``, ``broken`` answers 503, ``slow...`` (any name
starting so) streams (or answers) slowly and records when the client went away; any other name answers ``echo <model>:<last
words>`` token by token, one word per token.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


@dataclass
class FakeState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    """Every completion request body, in arrival order."""
    disconnected: list[tuple[str, str]] = field(default_factory=list)
    """(model, path) of slow requests whose client went away before they finished."""


def answer_words(body: dict[str, Any]) -> list[str]:
    """What the fake answers: the model name, then the prompt's words, cut at max_tokens."""
    if "messages" in body:
        text = str(body["messages"][-1]["content"])
    else:
        text = str(body["prompt"])
    words = [f"{body['model']}:", *text.split()]
    return words[: int(body.get("max_tokens") or 16)]


def build_app(state: FakeState) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "base", "object": "model"}]}

    async def complete(request: Request, chat: bool) -> Any:
        body = await request.json()
        state.requests.append(body)
        model = body["model"]
        if model == "overloaded":
            return JSONResponse({"error": {"message": "busy"}}, status_code=429, headers={"Retry-After": "7"})
        if model == "broken":
            return JSONResponse({"error": {"message": "engine died"}}, status_code=503)
        if model == "unknown":
            return JSONResponse(
                {"error": {"message": "The model `unknown` does not exist."}}, status_code=404
            )
        if body.get("stream"):
            return StreamingResponse(_events(state, body, chat, request), media_type="text/event-stream")
        if model.startswith("slow"):
            await _wait_for_disconnect(state, model, request)
        words = answer_words(body)
        n = int(body.get("n") or 1)
        finish = "length" if len(words) == int(body.get("max_tokens") or 16) else "stop"
        text = " ".join(words)
        choice = {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
        return {
            "id": "cmpl-1",
            "object": "chat.completion" if chat else "text_completion",
            "model": model,
            "choices": [{"index": i, "finish_reason": finish, **choice} for i in range(n)],
            "usage": {
                "prompt_tokens": 5,
                "completion_tokens": len(words) * n,
                "total_tokens": 5 + len(words) * n,
            },
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        return await complete(request, chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        return await complete(request, chat=False)

    return app


async def _wait_for_disconnect(state: FakeState, model: str, request: Request) -> None:
    for _ in range(200):
        if await request.is_disconnected():
            state.disconnected.append((model, request.url.path))
            return
        await asyncio.sleep(0.05)


async def _events(state: FakeState, body: dict[str, Any], chat: bool, request: Request) -> AsyncIterator[str]:
    words = answer_words(body)
    slow = str(body["model"]).startswith("slow")
    if slow:
        words = [f"w{i}" for i in range(200)]
    try:
        for i, word in enumerate(words):
            piece = ("" if i == 0 else " ") + word
            choice = {"delta": {"content": piece}} if chat else {"text": piece}
            yield "data: " + json.dumps({"choices": [{"index": 0, "finish_reason": None, **choice}]}) + "\n\n"
            if slow:
                await asyncio.sleep(0.05)
        finish = "length" if len(words) == int(body.get("max_tokens") or 16) else "stop"
        last: dict[str, Any] = {"delta": {}} if chat else {"text": ""}
        yield "data: " + json.dumps({"choices": [{"index": 0, "finish_reason": finish, **last}]}) + "\n\n"
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 5, "completion_tokens": len(words), "total_tokens": 5 + len(words)}
            yield "data: " + json.dumps({"choices": [], "usage": usage}) + "\n\n"
        yield "data: [DONE]\n\n"
    except asyncio.CancelledError:
        state.disconnected.append((str(body["model"]), request.url.path))
        raise


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_fake_upstream() -> Iterator[tuple[str, FakeState]]:
    """Serve the fake engine on a free port; yields its base URL and its recorded state."""
    import uvicorn

    state = FakeState()
    port = free_port()
    config = uvicorn.Config(
        build_app(state), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the fake upstream did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}", state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
