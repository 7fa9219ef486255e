"""The local engine's answers: batched equals alone, one base serves many adapters, n, seeds, limits."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from pathlib import Path

import pytest

from tuneloop.serve.backend import BackendError, Completion, Prompt, Sampling, StreamResult
from tuneloop.serve.engine import LocalEngine
from tuneloop.serve.model_pool import ModelPool

PROMPTS = [
    "hi",
    "tell me about the sea in a few words",
    "2+2?",
    "a much longer question about parcels and refunds",
    "ok",
]
GREEDY = Sampling(max_tokens=8, temperature=0)


def chat(text: str) -> Prompt:
    return Prompt(messages=({"role": "user", "content": text},))


def texts(completions: list[Completion]) -> list[str]:
    return [c.choices[0].text for c in completions]


async def one_at_a_time(engine: LocalEngine, target, prompts, samplings) -> list[Completion]:
    return [await engine.generate(target, p, s) for p, s in zip(prompts, samplings, strict=True)]


def test_batched_greedy_answers_equal_one_at_a_time(engine_models, engine_run) -> None:
    target = engine_models.v1
    prompts = [chat(p) for p in PROMPTS]
    samplings = [Sampling(max_tokens=m, temperature=0) for m in (12, 12, 6, 12, 9)]
    plain = engine_run(lambda engine: one_at_a_time(engine, target, prompts, samplings))
    # A stop string taken from inside one answer: the batched answer must be cut before it.
    answer = plain[1].choices[0].text
    assert len(answer) >= 4
    stop = answer[2:4]
    samplings[1] = dataclasses.replace(samplings[1], stop=(stop,))
    alone = engine_run(lambda engine: one_at_a_time(engine, target, prompts, samplings))

    async def together(engine: LocalEngine):
        answers = await asyncio.gather(
            *(engine.generate(target, p, s) for p, s in zip(prompts, samplings, strict=True))
        )
        return answers, engine.stats()

    batched, stats = engine_run(together, batch_wait_ms=2000)
    assert stats["batches"] == 1 and stats["rows"] == len(PROMPTS)
    assert texts(batched) == texts(alone)
    assert len(set(texts(batched))) > 1  # the answers differ: the comparison is not trivial
    assert [c.choices[0].completion_tokens for c in batched] == [
        c.choices[0].completion_tokens for c in alone
    ]
    assert [c.prompt_tokens for c in batched] == [c.prompt_tokens for c in alone]
    cut = batched[1].choices[0]
    assert cut.text == answer[: answer.find(stop)] and cut.finish_reason == "stop"
    assert cut.completion_tokens < plain[1].choices[0].completion_tokens
    short = batched[2].choices[0]  # max_tokens 6 in a batch running to 12: charged only its own tokens
    assert short.completion_tokens <= 6
    assert short.finish_reason == ("length" if short.completion_tokens == 6 else "stop")
    assert all(c.target == target and c.latency_s > 0 for c in batched)


def test_versions_share_one_base_and_answer_as_their_own_load_model(engine_models, engine_run) -> None:
    from tuneloop.evaluate.decoding import GenerationSettings, generate_one_batch
    from tuneloop.models import load_model, render_chat, resolve_model

    models = engine_models
    targets = [models.base, models.v1, models.v2]
    pool = ModelPool()

    async def scenario(engine: LocalEngine):
        return await asyncio.gather(*(engine.generate(t, chat(PROMPTS[1]), GREEDY) for t in targets))

    answers = engine_run(scenario, pool=pool)
    assert pool.models_loaded == 1
    expected = []
    for reference in (str(models.base.base_path), "proj:1", "proj:2"):
        loaded = load_model(resolve_model(reference, models.project))
        text = render_chat(loaded.tokenizer, [{"role": "user", "content": PROMPTS[1]}], ending="open")
        settings = GenerationSettings(max_new_tokens=GREEDY.max_tokens)
        expected.append(generate_one_batch(loaded, [text], settings, autocast=False)[0].text)
    assert [t.strip() for t in texts(answers)] == expected
    assert len(set(expected)) == 3  # base and both adapters answer differently
    assert [a.target for a in answers] == targets


def test_n_choices_and_seeded_sampling(engine_models, engine_run) -> None:
    target = engine_models.v1
    seeded = Sampling(max_tokens=8, temperature=1.0, seed=7, n=2)

    async def scenario(engine: LocalEngine):
        greedy, first, second = await asyncio.gather(
            engine.generate(target, chat("hi"), dataclasses.replace(GREEDY, n=2)),
            engine.generate(target, chat("hi"), seeded),
            engine.generate(target, chat("hi"), seeded),
        )
        later = await engine.generate(target, chat("hi"), seeded)
        return greedy, first, second, later

    greedy, first, second, later = engine_run(scenario)
    assert [c.index for c in greedy.choices] == [0, 1]
    assert greedy.choices[0].text == greedy.choices[1].text
    assert greedy.completion_tokens == sum(c.completion_tokens for c in greedy.choices)
    seeded_texts = [[c.text for c in r.choices] for r in (first, second, later)]
    assert seeded_texts[0] == seeded_texts[1] == seeded_texts[2]  # a seed wins over batching
    assert len(seeded_texts[0]) == 2


def test_an_in_flight_request_keeps_its_target(engine_models, engine_run) -> None:
    models = engine_models
    sampling = Sampling(max_tokens=12, temperature=0)

    async def scenario(engine: LocalEngine):
        alone = [await engine.generate(t, chat("hi"), sampling) for t in (models.v1, models.v2)]
        result = StreamResult()
        stream = engine.stream(models.v1, chat("hi"), sampling, result)
        pieces = [await anext(stream)]
        later = asyncio.create_task(engine.generate(models.v2, chat("hi"), sampling))
        pieces += [piece async for piece in stream]
        return alone, "".join(p.text for p in pieces), await later

    alone, streamed, later = engine_run(scenario)
    assert alone[0].choices[0].text != alone[1].choices[0].text
    assert streamed == alone[0].choices[0].text
    assert later.target == models.v2 and later.choices[0].text == alone[1].choices[0].text


def test_a_prompt_beyond_the_context_fails_alone(engine_models, engine_run) -> None:
    target = engine_models.v1

    async def scenario(engine: LocalEngine):
        return await asyncio.gather(
            engine.generate(target, Prompt(text="x" * 600), GREEDY),
            engine.generate(target, chat("hi"), GREEDY),
            return_exceptions=True,
        )

    too_long, fine = engine_run(scenario)
    assert isinstance(too_long, BackendError) and too_long.status == 400
    assert too_long.code == "context_length_exceeded"
    assert isinstance(fine, Completion) and fine.choices[0].finish_reason in ("stop", "length")


def test_raw_text_prompts_are_used_as_they_are(engine_models, engine_run) -> None:
    target = engine_models.base

    async def scenario(engine: LocalEngine):
        return await engine.generate(target, Prompt(text="hello"), GREEDY)

    assert engine_run(scenario).prompt_tokens == len(b"hello")  # byte-level tokenizer, no template


def test_pickled_adapter_weights_are_refused(engine_models, engine_run, tmp_path: Path) -> None:
    adapter = tmp_path / "pickled"
    shutil.copytree(engine_models.v1.adapter_path, adapter)
    (adapter / "adapter_model.safetensors").rename(adapter / "adapter_model.bin")
    target = dataclasses.replace(engine_models.v1, adapter_path=adapter, identity="pickled")

    async def scenario(engine: LocalEngine):
        return await engine.generate(target, chat("hi"), GREEDY)

    with pytest.raises(BackendError) as refused:
        engine_run(scenario)
    assert refused.value.code == "unsafe_weights"


def test_a_full_weights_version_is_another_model_in_a_bounded_pool(
    engine_models, engine_full_weights_dir: Path, engine_run
) -> None:
    from tuneloop.registry import register_model_version

    models = engine_models
    register_model_version(
        models.project,
        name="proj",
        kind="full",
        artifact_dir=engine_full_weights_dir,
        base_reference=str(models.base.base_path),
        base_weights_sha256=models.base.base_weights_sha256,
    )
    full = models.target("proj:3")
    assert full.merged_weights and full.adapter_path is None
    pool = ModelPool(max_models=1)

    async def scenario(engine: LocalEngine):
        order = [models.v1, full, models.base, full]
        answers = [await engine.generate(t, chat("hi"), GREEDY) for t in order]
        return answers, pool.models_loaded

    (v1, full_first, base, full_again), loaded = engine_run(scenario, pool=pool)
    assert loaded == 1  # the least recently used model made room
    assert full_first.choices[0].text == full_again.choices[0].text
    assert len({v1.choices[0].text, full_first.choices[0].text, base.choices[0].text}) == 3
