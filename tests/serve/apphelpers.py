"""Helpers of the HTTP-layer tests: a scripted backend, a server in a thread, registered versions.

:class:`ScriptedBackend` answers deterministically from the prompt and the Target's exact reference
(``"proj:1 answer 0: <last user message>"``), counts a token per word, honours ``max_tokens``, ``stop``
and ``n``, streams word by word, and can be made slow (``delay_s``), full (``max_queue``), or hold
requests whose prompt contains ``[hold]`` until :meth:`release` (to test timeouts, cancellation,
drain and in-flight alias moves). It loads no model.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tuneloop.serve.backend import (
    Choice,
    Completion,
    Delta,
    Prompt,
    QueueFull,
    Sampling,
    StreamResult,
    Target,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluate"))
from evalhelpers import register_version

HOLD = "[hold]"


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


class ScriptedBackend:
    """A deterministic :class:`~tuneloop.serve.backend.Backend` for tests."""

    def __init__(
        self,
        *,
        delay_s: float = 0.0,
        max_queue: int = 1000,
        start_delay_s: float = 0.0,
        retry_after_s: float = 2,
    ) -> None:
        self.delay_s = delay_s
        self.max_queue = max_queue
        self.start_delay_s = start_delay_s
        self.retry_after_s = retry_after_s
        self.piece_delay_s = 0.0
        """Pause between streamed pieces (a slow stream a client can walk away from)."""
        self.in_flight = 0
        self.cancelled = 0
        self.answered = 0
        self.stopped = False
        self.drained_in_flight: int | None = None
        self._ready = False
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    async def start(self) -> None:
        await asyncio.sleep(self.start_delay_s)
        self._ready = True

    async def stop(self, drain_timeout_s: float) -> None:
        deadline = time.monotonic() + drain_timeout_s
        while self.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self.drained_in_flight = self.in_flight
        self.stopped = True
        self._ready = False

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def queue_depth(self) -> int:
        return self.in_flight

    def _admit(self) -> None:
        if self.in_flight >= self.max_queue:
            raise QueueFull(self.retry_after_s)
        self.in_flight += 1

    async def _wait(self, prompt: Prompt) -> None:
        if HOLD in prompt_text(prompt):
            while not self._released.is_set():
                await asyncio.sleep(0.01)
        await asyncio.sleep(self.delay_s)

    async def generate(self, target: Target, prompt: Prompt, sampling: Sampling) -> Completion:
        self._admit()
        started = time.perf_counter()
        try:
            await self._wait(prompt)
            choices = [script_choice(target, prompt, sampling, i) for i in range(sampling.n)]
            self.answered += 1
            return Completion(
                target, choices, len(prompt_text(prompt).split()), time.perf_counter() - started
            )
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1

    def stream(
        self, target: Target, prompt: Prompt, sampling: Sampling, result: StreamResult
    ) -> AsyncIterator[Delta]:
        return self._stream(target, prompt, sampling, result)

    async def _stream(
        self, target: Target, prompt: Prompt, sampling: Sampling, result: StreamResult
    ) -> AsyncIterator[Delta]:
        self._admit()
        started = time.perf_counter()
        finished = False
        try:
            await self._wait(prompt)
            result.prompt_tokens = len(prompt_text(prompt).split())
            for index in range(sampling.n):
                choice = script_choice(target, prompt, sampling, index)
                words = choice.text.split(" ") if choice.text else []
                for count, word in enumerate(words, start=1):
                    last = count == len(words)
                    text = word if count == 1 else " " + word
                    yield Delta(index, text, choice.finish_reason if last else None, count)
                    await asyncio.sleep(self.piece_delay_s)
                if not words:
                    yield Delta(index, "", choice.finish_reason, 0)
                result.choices[index] = choice
            result.latency_s = time.perf_counter() - started
            self.answered += 1
            finished = True
        finally:
            if not finished:
                self.cancelled += 1
            self.in_flight -= 1


def prompt_text(prompt: Prompt) -> str:
    if prompt.text is not None:
        return prompt.text
    assert prompt.messages is not None
    return " ".join(str(m["content"]) for m in prompt.messages if m["role"] == "user")


def script_choice(target: Target, prompt: Prompt, sampling: Sampling, index: int) -> Choice:
    """``"<reference> answer <index>: <prompt>"``, cut at a stop string or at ``max_tokens`` words."""
    text = f"{target.reference} answer {index}: {prompt_text(prompt).replace(HOLD, '').strip()}"
    finish = "stop"
    for stop in sampling.stop:
        if stop in text:
            text = text[: text.index(stop)]
    words = text.split(" ")
    if len(words) > sampling.max_tokens:
        words, finish = words[: sampling.max_tokens], "length"
    return Choice(index, " ".join(words), finish, len(words))


@contextmanager
def running_server(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free port; yields its base URL; always stops it."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn sets no TCP_NODELAY on sockets it is handed: without it every keep-alive answer waits
    # ~40 ms for a delayed ACK (accepted sockets inherit the option from the listening one).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=5)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive())
        assert server.started, "the test server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_artifact(directory: Path, tag: str) -> Path:
    """A stand-in weights directory (the scripted backend loads nothing)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(f'{{"tag": "{tag}"}}', encoding="utf-8")
    return directory


def register_versions(project: Any, root: Path, count: int = 2) -> list[Any]:
    """Register ``proj:1`` .. ``proj:count`` (distinct stand-in weights) and return their infos."""
    return [
        register_version(project, make_artifact(root / f"weights-{i}", str(i)), root / "base")
        for i in range(1, count + 1)
    ]


class Served:
    """A running test server with its project, backend and app state."""

    def __init__(self, url: str, project: Any, backend: ScriptedBackend, app: Any) -> None:
        self.url = url
        self.project = project
        self.backend = backend
        self.app = app

    @property
    def state(self) -> Any:
        return self.app.state.serve

    def client(self, secret: str, **kwargs: Any) -> Any:
        import openai

        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=secret, max_retries=0, timeout=30, **kwargs)

    def post(self, path: str, secret: str | None, **kwargs: Any) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.post(f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str, secret: str | None = None) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=30)

    def logged(self) -> list[Any]:
        """Every request log row (after writing what is queued)."""
        from sqlalchemy import select

        from tuneloop.store import RequestLogRecord

        assert self.state.request_log.flush()
        with self.project.store.session() as session:
            return list(session.scalars(select(RequestLogRecord).order_by(RequestLogRecord.created_at)))


@contextmanager
def serving(
    project: Any, backend: ScriptedBackend, *, insecure_no_auth: bool = False, **settings: Any
) -> Iterator[Served]:
    """Serve ``project`` with ``backend`` (serve settings overridden by ``settings``) until the block ends."""
    from tuneloop.serve.app import create_app

    section = project.config.serve.model_copy(update={"alias_refresh_s": 0.0, **settings})
    app = create_app(project, section, backend, insecure_no_auth=insecure_no_auth)
    with running_server(app) as url:
        wait_until(lambda: backend.ready)
        yield Served(url, project, backend, app)
