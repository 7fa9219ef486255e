"""The local generation engine: a bounded queue, dynamic batching and streaming on one worker thread.

Requests are accepted on the asyncio loop (or refused at once with :class:`QueueFull`), queued, and
run by one worker thread (torch releases the GIL while it computes). The worker takes the oldest
request, waits up to ``batch_wait_ms`` for more requests that can share its forward passes, and runs
one batched ``generate`` for all their rows (``n`` choices are rows), on the shared-prefix, left-padded
layout of evaluation (:func:`tuneloop.evaluate.decoding.encode_batch`). Requests share a batch when
they name the same Target (exact weights) and decode alike:

* greedy requests batch together (a batched greedy answer equals the one-at-a-time answer);
* sampled requests batch when their temperature and top_p are equal and they carry no seed;
* a request with a seed runs alone, seeded, so its answer is the same whatever else is queued.

Results go back to the loop with ``call_soon_threadsafe``: streamed pieces as :class:`Delta`, then the
finished answer. Cancelling the awaiting task (or closing a stream) marks the request cancelled: a
queued one is dropped before it runs, a running one stops its rows at the next step, and the batch
ends once all its rows are finished or cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from tuneloop.serve.model_pool import ModelPool
    from tuneloop.serve.streaming import BatchCounters, RowDecoder


@dataclass
class _Finished:
    """The last event of a request: every choice is done."""

    choices: list[Choice]
    prompt_tokens: int
    latency_s: float


@dataclass(eq=False)
class _Request:
    target: Target
    prompt: Prompt
    sampling: Sampling
    streaming: bool
    loop: asyncio.AbstractEventLoop
    release: Callable[[_Request], None]
    """Frees the request's slot in the engine (called once, from whichever thread finishes it)."""
    accepted_at: float = field(default_factory=time.monotonic)
    events: asyncio.Queue[Delta | _Finished | BaseException] = field(default_factory=asyncio.Queue)
    cancelled: bool = False
    prompt_tokens: int = 0
    choices: dict[int, Choice] = field(default_factory=dict)
    rows_open: int = 0
    resolved: bool = False
    _resolving: threading.Lock = field(default_factory=threading.Lock)
    """The worker and the loop (a cancel, a shutdown) may both end a request; only the first counts."""

    def post(self, item: Delta | _Finished | BaseException) -> None:
        """Hand an event to the request's consumer on its event loop (safe from any thread)."""
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self.loop.call_soon_threadsafe(self.events.put_nowait, item)

    def choice_done(self, choice: Choice | None) -> None:
        """A row ended (``None``: cancelled); the request completes when its last row does."""
        if choice is not None:
            self.choices[choice.index] = choice
        self.rows_open -= 1
        if self.rows_open == 0 and not self.cancelled:
            ordered = [self.choices[i] for i in sorted(self.choices)]
            self.resolve(_Finished(ordered, self.prompt_tokens, time.monotonic() - self.accepted_at))
        elif self.rows_open == 0:
            self.resolve(None)

    def resolve(self, outcome: _Finished | BaseException | None) -> None:
        with self._resolving:
            if self.resolved:
                return
            self.resolved = True
        # Free the slot before the consumer can see the outcome, so a caller that has its answer
        # never observes its own request still counted in the queue.
        self.release(self)
        if outcome is not None:
            self.post(outcome)


@dataclass(eq=False)
class _EngineRow:
    """One choice of one request inside a running batch."""

    request: _Request
    index: int
    decoder: RowDecoder

    @property
    def cancelled(self) -> bool:
        return self.request.cancelled

    def on_text(self, text: str) -> None:
        finish = self.decoder.finish_reason
        if self.request.streaming:
            tokens = len(self.decoder.tokens)
            self.request.post(Delta(self.index, text, finish_reason=finish, completion_tokens=tokens))
        if finish is not None:
            self.request.choice_done(
                Choice(self.index, self.decoder.text, finish, completion_tokens=len(self.decoder.tokens))
            )

    def on_cancel(self) -> None:
        self.request.choice_done(None)


def batch_key(request: _Request) -> tuple[object, ...]:
    """Requests with equal keys may share one batched ``generate``."""
    sampling = request.sampling
    if sampling.temperature == 0:
        mode: tuple[object, ...] = ("greedy",)
    elif sampling.seed is not None:
        mode = ("seeded", id(request))  # alone: a seeded answer must not depend on its neighbours
    else:
        mode = ("sampled", sampling.temperature, sampling.top_p)
    return (request.target.identity, str(request.target.base_path), *mode)


class LocalEngine:
    """Generates on this machine: one loaded base model, PEFT adapters, dynamic batching."""

    def __init__(
        self,
        max_queue: int,
        max_batch_size: int,
        batch_wait_ms: int,
        default_target: Target | None = None,
        *,
        pool: ModelPool | None = None,
        autocast: bool | None = None,
    ) -> None:
        """``autocast`` None uses bf16 autocast where the CPU is fast at it (as evaluation does)."""
        self._max_queue = max_queue
        self._max_batch_size = max_batch_size
        self._batch_wait_s = batch_wait_ms / 1000
        self._default_target = default_target
        self._pool = pool
        self._autocast = autocast
        self._pending: deque[_Request] = deque()
        self._depth = 0
        self._cond = threading.Condition()
        self._accepting = False
        self._closing = False
        self._ready = False
        self._worker: threading.Thread | None = None
        self._running: frozenset[_Request] = frozenset()
        self._batch_seconds = 1.0
        """Recent wall time of one batch (moving average): sizes ``Retry-After``."""
        from tuneloop.serve.streaming import BatchCounters

        self.counters: BatchCounters = BatchCounters()

    # -- the Backend protocol -------------------------------------------------------------------

    async def start(self) -> None:
        from tuneloop.serve.model_pool import ModelPool

        if self._pool is None:
            self._pool = await asyncio.to_thread(ModelPool)
        if self._default_target is not None:
            await asyncio.to_thread(self._pool.get, self._default_target)
        self._worker = threading.Thread(target=self._work, name="tuneloop-engine", daemon=True)
        self._accepting = True
        self._worker.start()
        self._ready = True

    async def stop(self, drain_timeout_s: float) -> None:
        self._accepting = False
        self._ready = False
        deadline = time.monotonic() + drain_timeout_s
        while self._depth > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._abandon_all()
        if self._worker is not None:
            # A running batch sees its rows cancelled at its next step; a model load cannot be cut short.
            await asyncio.to_thread(self._worker.join, 30)
            self._worker = None

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def queue_depth(self) -> int:
        return self._depth

    async def generate(self, target: Target, prompt: Prompt, sampling: Sampling) -> Completion:
        request = self._submit(target, prompt, sampling, streaming=False)
        try:
            while True:
                item = await request.events.get()
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, _Finished):
                    return Completion(target, item.choices, item.prompt_tokens, item.latency_s)
        finally:
            self._cancel(request)

    async def stream(
        self, target: Target, prompt: Prompt, sampling: Sampling, result: StreamResult
    ) -> AsyncIterator[Delta]:
        request = self._submit(target, prompt, sampling, streaming=True)
        try:
            while True:
                item = await request.events.get()
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, _Finished):
                    result.prompt_tokens = item.prompt_tokens
                    result.choices = {choice.index: choice for choice in item.choices}
                    result.latency_s = item.latency_s
                    return
                yield item
        finally:
            self._cancel(request)

    # -- accepting, cancelling, releasing (event loop side) --------------------------------------

    def _submit(self, target: Target, prompt: Prompt, sampling: Sampling, *, streaming: bool) -> _Request:
        if not self._accepting:
            if self._closing or self._worker is not None:
                raise BackendError("the server is shutting down", status=503, code="shutting_down")
            raise BackendError("the engine has not started", status=503, code="not_ready")
        request = _Request(target, prompt, sampling, streaming, asyncio.get_running_loop(), self._release)
        request.rows_open = sampling.n
        with self._cond:
            if self._depth >= self._max_queue:
                raise QueueFull(self._retry_after())
            self._depth += 1
            self._pending.append(request)
            self._cond.notify_all()
        return request

    def _retry_after(self) -> float:
        batches_ahead = math.ceil(self._depth / self._max_batch_size)
        return float(max(1, math.ceil(self._batch_seconds * batches_ahead)))

    def _cancel(self, request: _Request) -> None:
        """Mark ``request`` cancelled; a queued one leaves the queue (and frees its slot) now."""
        if request.resolved:
            return
        request.cancelled = True
        with self._cond:
            queued = request in self._pending
            if queued:
                self._pending.remove(request)
        if queued:
            request.resolve(None)

    def _release(self, request: _Request) -> None:
        with self._cond:
            self._depth -= 1

    def _abandon_all(self) -> None:
        """After the drain timeout: fail what is still queued or running."""
        with self._cond:
            leftover, self._pending = list(self._pending), deque()
            running = list(self._running)
        for request in leftover + running:
            request.cancelled = True
            request.resolve(BackendError("the server is shutting down", status=503, code="shutting_down"))

    # -- the worker thread ------------------------------------------------------------------------

    def _work(self) -> None:
        while (batch := self._next_batch()) is not None:
            started = time.monotonic()
            try:
                self._run_batch(batch)
            except BackendError as exc:
                self._fail(batch, exc)
            except Exception as exc:  # a generation error must fail its requests, not the server
                self._fail(batch, BackendError(f"generation failed: {exc}", code="generation_failed"))
            self._batch_seconds = 0.8 * self._batch_seconds + 0.2 * (time.monotonic() - started)
            with self._cond:
                self._running = frozenset()

    def _fail(self, batch: list[_Request], error: BackendError) -> None:
        for request in batch:
            request.resolve(error)

    def _next_batch(self) -> list[_Request] | None:
        """The oldest request and those queued within ``batch_wait_ms`` that can join it; None to exit."""
        with self._cond:
            while not self._pending:
                if self._closing:
                    return None
                self._cond.wait()
            first = self._pending.popleft()
            batch, rows, key = [first], first.sampling.n, batch_key(first)
            deadline = time.monotonic() + self._batch_wait_s
            while rows < self._max_batch_size:
                for request in list(self._pending):
                    fits = rows + request.sampling.n <= self._max_batch_size
                    if fits and batch_key(request) == key:
                        self._pending.remove(request)
                        batch.append(request)
                        rows += request.sampling.n
                # Visible to a shutdown while the batch waits for company (the wait releases the lock).
                self._running = frozenset(batch)
                remaining = deadline - time.monotonic()
                if rows >= self._max_batch_size or remaining <= 0 or self._closing:
                    break
                self._cond.wait(remaining)
            return batch

    def _run_batch(self, batch: list[_Request]) -> None:
        from tuneloop.serve.streaming import run_batch

        assert self._pool is not None
        pooled = self._pool.get(batch[0].target)  # may load a model: requests can be cancelled meanwhile
        live = [request for request in batch if not request.cancelled]
        for request in batch:
            if request.cancelled:
                request.resolve(None)
        if live:
            run_batch(pooled, live, self._make_row, self.counters, autocast=self._autocast)

    def stats(self) -> dict[str, float]:
        """Counters for metrics and benchmarks."""
        counters = self.counters
        return {
            "batches": counters.batches,
            "rows": counters.rows,
            "tokens": counters.tokens,
            "mean_batch_rows": counters.rows / counters.batches if counters.batches else 0.0,
        }

    @staticmethod
    def _make_row(request: _Request, index: int, decoder: RowDecoder) -> _EngineRow:
        return _EngineRow(request, index, decoder)
