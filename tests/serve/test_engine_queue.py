"""The engine's queue, cancellation, streaming and draining."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tuneloop.serve.backend import BackendError, Prompt, QueueFull, Sampling, StreamResult, Target
from tuneloop.serve.engine import LocalEngine
from tuneloop.serve.model_pool import ModelPool, PooledModel

GREEDY = Sampling(max_tokens=10, temperature=0)


def chat(text: str) -> Prompt:
    return Prompt(messages=({"role": "user", "content": text},))


class GatedPool(ModelPool):
    """Holds the worker before its first batch until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def get(self, target: Target) -> PooledModel:
        self.gate.wait(timeout=60)
        return super().get(target)


async def settle() -> None:
    """Let created tasks run up to their first await (submitting their request)."""
    for _ in range(3):
        await asyncio.sleep(0)


def test_a_full_queue_refuses_at_once(engine_models, engine_run) -> None:
    target = engine_models.v1
    pool = GatedPool()

    async def scenario(engine: LocalEngine):
        try:
            tasks = [asyncio.create_task(engine.generate(target, chat(p), GREEDY)) for p in ("a", "b")]
            await settle()
            assert engine.queue_depth == 2
            with pytest.raises(QueueFull) as full:
                await engine.generate(target, chat("c"), GREEDY)
            with pytest.raises(QueueFull):
                await anext(engine.stream(target, chat("c"), GREEDY, StreamResult()))
            pool.gate.set()
            done = await asyncio.gather(*tasks)
            return full.value.retry_after_s, done, engine.queue_depth
        finally:
            pool.gate.set()

    retry_after, done, depth = engine_run(scenario, max_queue=2, pool=pool)
    assert retry_after >= 1
    assert all(c.choices[0].finish_reason in ("stop", "length") for c in done)
    assert depth == 0


def test_cancelling_a_queued_request_frees_its_slot_and_spares_the_others(engine_models, engine_run) -> None:
    target = engine_models.v1
    pool = GatedPool()
    prompts = ["hi", "2+2?", "ok", "where is my parcel"]

    async def scenario(engine: LocalEngine):
        try:
            tasks = [asyncio.create_task(engine.generate(target, chat(p), GREEDY)) for p in prompts[:3]]
            await settle()
            tasks[1].cancel()
            await settle()
            depth_after_cancel = engine.queue_depth
            tasks.append(asyncio.create_task(engine.generate(target, chat(prompts[3]), GREEDY)))
            await settle()
            pool.gate.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            rows = engine.stats()["rows"]
            alone = [await engine.generate(target, chat(p), GREEDY) for p in prompts]
            return depth_after_cancel, results, rows, alone
        finally:
            pool.gate.set()

    depth_after_cancel, results, rows, alone = engine_run(scenario, max_queue=3, pool=pool)
    assert depth_after_cancel == 2
    assert isinstance(results[1], asyncio.CancelledError)
    assert rows == 3  # the cancelled request never ran
    kept = [0, 2, 3]
    assert [results[i].choices[0].text for i in kept] == [alone[i].choices[0].text for i in kept]


def test_closing_a_stream_leaves_its_batch_neighbour_intact(engine_models, engine_run) -> None:
    target = engine_models.v1

    async def scenario(engine: LocalEngine):
        alone = await engine.generate(target, chat("hi"), GREEDY)
        stream = engine.stream(
            target, chat("tell me a story"), Sampling(max_tokens=200, temperature=0), StreamResult()
        )
        neighbour = asyncio.create_task(engine.generate(target, chat("hi"), GREEDY))
        await anext(stream)
        await stream.aclose()
        answer = await neighbour
        while engine.queue_depth:  # the closed stream's row ends at the batch's next step
            await asyncio.sleep(0.01)
        return alone, answer, engine.stats()

    alone, answer, stats = engine_run(scenario, batch_wait_ms=500)
    assert stats["batches"] == 2 and stats["rows"] == 3  # the stream and its neighbour shared a batch
    assert answer.choices[0].text == alone.choices[0].text


def test_streamed_deltas_make_the_non_streamed_answer(engine_models, engine_run) -> None:
    target = engine_models.v2
    sampling = Sampling(max_tokens=16, temperature=0, n=2)

    async def scenario(engine: LocalEngine):
        whole = await engine.generate(target, chat("tell me about the sea"), sampling)
        result = StreamResult()
        deltas = [d async for d in engine.stream(target, chat("tell me about the sea"), sampling, result)]
        return whole, deltas, result

    whole, deltas, result = engine_run(scenario)
    for choice in whole.choices:
        pieces = [d for d in deltas if d.index == choice.index]
        assert "".join(d.text for d in pieces) == choice.text
        assert [d.finish_reason for d in pieces[:-1]] == [None] * (len(pieces) - 1)
        assert pieces[-1].finish_reason == choice.finish_reason
        assert pieces[-1].completion_tokens == choice.completion_tokens
        counts = [d.completion_tokens for d in pieces]
        assert counts == sorted(counts)
        assert result.choices[choice.index] == choice
    assert len(deltas) > 4  # it really streamed in pieces
    assert result.prompt_tokens == whole.prompt_tokens and result.latency_s > 0


def test_stop_drains_running_and_queued_requests(engine_models, engine_run) -> None:
    target = engine_models.v1

    async def scenario(engine: LocalEngine):
        tasks = [asyncio.create_task(engine.generate(target, chat(p), GREEDY)) for p in ("a", "bb", "ccc")]
        await settle()
        await engine.stop(drain_timeout_s=120)
        done = await asyncio.gather(*tasks)
        with pytest.raises(BackendError) as refused:
            await engine.generate(target, chat("late"), GREEDY)
        return done, refused.value, engine.ready, engine.queue_depth

    done, refused, ready, depth = engine_run(scenario)
    assert all(c.choices[0].text is not None and c.choices[0].completion_tokens > 0 for c in done)
    assert refused.status == 503 and refused.code == "shutting_down"
    assert not ready and depth == 0


def test_stop_fails_what_outlives_the_drain_timeout(engine_models, engine_run) -> None:
    target = engine_models.v1
    pool = GatedPool()

    async def scenario(engine: LocalEngine):
        try:
            tasks = [asyncio.create_task(engine.generate(target, chat(p), GREEDY)) for p in ("a", "b")]
            await settle()
            stopping = asyncio.create_task(engine.stop(drain_timeout_s=0))
            results = await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            pool.gate.set()
        await stopping
        return results, engine.queue_depth

    results, depth = engine_run(scenario, pool=pool)
    assert all(isinstance(r, BackendError) and r.status == 503 for r in results)
    assert depth == 0


def test_requests_before_start_are_refused(engine_models) -> None:
    engine = LocalEngine(max_queue=4, max_batch_size=4, batch_wait_ms=0)

    async def scenario():
        return await engine.generate(engine_models.v1, chat("hi"), GREEDY)

    with pytest.raises(BackendError) as refused:
        asyncio.run(scenario())
    assert refused.value.status == 503 and refused.value.code == "not_ready" and not engine.ready


def test_start_loads_the_default_target(engine_models) -> None:
    pool = ModelPool()
    engine = LocalEngine(
        max_queue=4, max_batch_size=4, batch_wait_ms=0, default_target=engine_models.v1, pool=pool
    )

    async def scenario():
        await engine.start()
        try:
            return engine.ready, pool.models_loaded
        finally:
            await engine.stop(0)

    assert asyncio.run(scenario()) == (True, 1)
