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


GATE = threading.Event()


class GatedEngine(LocalEngine):
    """Its worker takes no request off the queue until the test opens ``GATE``: requests stay queued."""

    def _next_batch(self):  # type: ignore[no-untyped-def]
        GATE.wait(timeout=60)
        return super()._next_batch()


class GatedPool(ModelPool):
    """Holds the worker after it has formed its first batch, as a slow model load does."""

    def get(self, target: Target) -> PooledModel:
        GATE.wait(timeout=60)
        return super().get(target)


@pytest.fixture(autouse=True)
def closed_gate():
    GATE.clear()
    yield
    GATE.set()


async def settle() -> None:
    """Let created tasks run up to their first await (submitting their request)."""
    for _ in range(3):
        await asyncio.sleep(0)


def test_a_full_queue_refuses_at_once(engine_models, engine_run) -> None:
    target = engine_models.v1

    async def scenario(engine: LocalEngine):
        tasks = [asyncio.create_task(engine.generate(target, chat(p), GREEDY)) for p in ("a", "b")]
        await settle()
        assert engine.queue_depth == 2
        with pytest.raises(QueueFull) as full:
            await engine.generate(target, chat("c"), GREEDY)
        with pytest.raises(QueueFull):
            await anext(engine.stream(target, chat("c"), GREEDY, StreamResult()))
        GATE.set()
        done = await asyncio.gather(*tasks)
        return full.value.retry_after_s, done, engine.queue_depth

    retry_after, done, depth = engine_run(scenario, GatedEngine, max_queue=2)
    assert retry_after >= 1
    assert all(c.choices[0].finish_reason in ("stop", "length") for c in done)
    assert depth == 0


def test_cancelling_a_queued_request_frees_its_slot_and_spares_the_others(engine_models, engine_run) -> None:
    target = engine_models.v1
    prompts = ["hi", "2+2?", "ok", "where is my parcel"]

    async def scenario(engine: LocalEngine):
        tasks = [asyncio.create_task(engine.generate(target, chat(p), GREEDY)) for p in prompts[:3]]
        await settle()
        tasks[1].cancel()
        await settle()
        depth_after_cancel = engine.queue_depth
        tasks.append(asyncio.create_task(engine.generate(target, chat(prompts[3]), GREEDY)))
        await settle()
        GATE.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        rows = engine.stats()["rows"]
        alone = [await engine.generate(target, chat(p), GREEDY) for p in prompts]
        return depth_after_cancel, results, rows, alone

    depth_after_cancel, results, rows, alone = engine_run(scenario, GatedEngine, max_queue=3)
    assert depth_after_cancel == 2
    assert isinstance(results[1], asyncio.CancelledError)
    assert rows == 3  # the cancelled request never ran
    kept = [0, 2, 3]
    assert [results[i].choices[0].text for i in kept] == [alone[i].choices[0].text for i in kept]


def test_a_request_cancelled_while_its_batch_waits_for_the_model_never_runs(
    engine_models, engine_run
) -> None:
    target = engine_models.v1
    prompts = ["hi", "2+2?", "ok"]

    async def scenario(engine: LocalEngine):
        tasks = [asyncio.create_task(engine.generate(target, chat(p), GREEDY)) for p in prompts]
        await asyncio.sleep(0.3)  # the worker has formed its batch and waits in the model pool
        tasks[1].cancel()
        await settle()
        GATE.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        stats = engine.stats()
        alone = [await engine.generate(target, chat(p), GREEDY) for p in prompts]
        return results, stats, alone, engine.queue_depth

    results, stats, alone, depth = engine_run(scenario, pool=GatedPool(), batch_wait_ms=100)
    assert isinstance(results[1], asyncio.CancelledError)
    assert stats["rows"] == 2  # the cancelled request was dropped before the batch ran
    assert [results[i].choices[0].text for i in (0, 2)] == [alone[i].choices[0].text for i in (0, 2)]
    assert depth == 0


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


@pytest.mark.parametrize("held", ["queued", "in a batch waiting for the model"])
def test_stop_fails_what_outlives_the_drain_timeout(engine_models, engine_run, held: str) -> None:
    target = engine_models.v1
    gated: dict = {"engine_type": GatedEngine} if held == "queued" else {"pool": GatedPool()}

    async def scenario(engine: LocalEngine):
        tasks = [asyncio.create_task(engine.generate(target, chat(p), GREEDY)) for p in ("a", "b")]
        await asyncio.sleep(0.3)
        stopping = asyncio.create_task(engine.stop(drain_timeout_s=0))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        GATE.set()
        await stopping
        return results, engine.queue_depth, engine.stats()["rows"]

    results, depth, rows = engine_run(scenario, **gated)
    assert all(isinstance(r, BackendError) and r.status == 503 for r in results)
    assert depth == 0 and rows == 0


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
