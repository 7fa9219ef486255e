"""The batched generation engine: same answers as one-by-one greedy decoding, a disk cache, samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneloop.evaluate.cache import GenerationCache
from tuneloop.evaluate.generation import GenerationSettings, generate_batch, generate_for_model, render_prompt
from tuneloop.models import load_model, resolve_model
from tuneloop.progress import RecordingProgress

PROMPTS = [
    "hi",
    "tell me about the sea in a few words",
    "2+2?",
    "a much longer question about parcels and refunds",
    "ok",
    "what is the capital of France?",
]


@pytest.fixture
def loaded(lively_model_dir: Path):
    return load_model(resolve_model(str(lively_model_dir)))


def conversations(prompts=PROMPTS):
    return [[{"role": "user", "content": p}] for p in prompts]


def test_batched_equals_per_item_greedy(loaded) -> None:
    settings = GenerationSettings(max_new_tokens=12, batch_size=4)
    batched = generate_batch(loaded, conversations(), settings, autocast=False)
    single = [generate_batch(loaded, [c], settings, autocast=False)[0] for c in conversations()]
    assert [g.text for g in batched] == [g.text for g in single]
    assert len({g.text for g in batched}) > 1  # the answers differ: the comparison is not trivial
    assert [g.completion_tokens for g in batched] == [g.completion_tokens for g in single]
    assert all(
        g.prompt_tokens > 0 and g.latency_s > 0 and g.finish_reason in ("stop", "length") for g in batched
    )


def test_disk_cache_hits_on_second_call(loaded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = GenerationCache(tmp_path / "cache.sqlite")
    settings = GenerationSettings(max_new_tokens=6, batch_size=8)
    reported = RecordingProgress()
    first = generate_batch(loaded, conversations(), settings, cache=cache, progress=reported)
    assert not any(g.cached for g in first) and len(cache) == len(PROMPTS)
    (task,) = reported.tasks  # one task over the prompts, finished, with the live rate as its status
    assert task.total == task.completed == len(PROMPTS) and task.finished
    assert task.status is not None and task.status.endswith("tok/s")

    def refuse(*args, **kwargs):
        raise AssertionError("generate must not run on a cache hit")

    monkeypatch.setattr(loaded.model, "generate", refuse)
    again = RecordingProgress()
    second = generate_batch(
        loaded, conversations(), settings.model_copy(update={"batch_size": 2}), cache=cache, progress=again
    )
    assert again.tasks == []  # nothing left to generate: no task is opened
    assert all(g.cached for g in second) and [g.text for g in second] == [g.text for g in first]
    with pytest.raises(AssertionError):  # a changed setting is a different key
        generate_batch(
            loaded,
            conversations(),
            settings.model_copy(update={"max_new_tokens": 7}),
            cache=cache,
        )


def test_duplicate_prompts_are_generated_once(loaded, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = loaded.model.generate

    def counting(**kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return original(**kwargs)

    monkeypatch.setattr(loaded.model, "generate", counting)
    results = generate_batch(
        loaded, conversations(["same", "same", "other"]), GenerationSettings(max_new_tokens=4)
    )
    assert sum(calls) == 2 and results[0].text == results[1].text


def test_sampling_returns_k_samples_and_stop_strings(loaded) -> None:
    sampled = generate_batch(
        loaded,
        conversations(PROMPTS[:2]),
        GenerationSettings(max_new_tokens=8, temperature=1.0, num_samples=3, seed=1),
    )
    assert all(len(g.samples) == 3 and g.samples[0] == g.text for g in sampled)
    greedy = generate_batch(loaded, conversations(PROMPTS[:1]), GenerationSettings(max_new_tokens=12))[0]
    stop = greedy.text[3:5]
    if stop.strip():
        cut = generate_batch(
            loaded,
            conversations(PROMPTS[:1]),
            GenerationSettings(max_new_tokens=12, stop=(stop,)),
        )[0]
        assert stop not in cut.text and cut.finish_reason == "stop"


def test_prefill_continues_the_assistant_message(loaded) -> None:
    conversation = [{"role": "user", "content": "grade this"}, {"role": "assistant", "content": '{"score": '}]
    rendered = render_prompt(loaded.tokenizer, conversation)
    assert rendered.endswith('{"score": ') and "<|im_end|>" not in rendered.split("assistant\n")[-1]
    assert (
        generate_batch(loaded, [conversation], GenerationSettings(max_new_tokens=4))[0].completion_tokens > 0
    )


def test_generate_for_model_caches_in_the_project(
    project_dir: Path, lively_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuneloop.evaluate.generation import forget_loaded_models, project_cache
    from tuneloop.project import Project

    project = Project.open()
    settings = GenerationSettings(max_new_tokens=5)
    reference = str(lively_model_dir)
    first = generate_for_model(project, reference, conversations(PROMPTS[:3]), settings)
    forget_loaded_models()

    def no_loading(*args, **kwargs):
        raise AssertionError("weights must not be loaded when every answer is cached")

    monkeypatch.setattr("tuneloop.evaluate.generation.load_for_evaluation", no_loading)
    second = generate_for_model(project, reference, conversations(PROMPTS[:3]), settings)
    assert [g.text for g in first] == [g.text for g in second] and all(g.cached for g in second)
    assert (project.cache_dir / "evaluate").is_dir() and len(project_cache(project)) == 3


def test_shared_prefix_is_used_and_changes_nothing(loaded) -> None:
    from tuneloop.evaluate.decoding import encode_batch

    system = {
        "role": "system",
        "content": "You are the support assistant of Acme Cloud. Answer in JSON only.",
    }
    convs = [[system, {"role": "user", "content": p}] for p in PROMPTS]
    prompts = [render_prompt(loaded.tokenizer, c) for c in convs]
    encoded = encode_batch(loaded.tokenizer, prompts, share_prefix=True)
    assert encoded.prefix_length > 50  # template preamble and system prompt
    assert all(sum(mask) == n for mask, n in zip(encoded.attention_mask, encoded.prompt_tokens, strict=True))
    settings = GenerationSettings(max_new_tokens=10, batch_size=6)
    shared = generate_batch(loaded, convs, settings, autocast=False)
    plain = generate_batch(loaded, convs, settings, autocast=False, share_prefix=False)
    assert [g.text for g in shared] == [g.text for g in plain]


def test_adapter_versions_generate_through_the_shared_prefix(
    project_dir: Path, lively_model_dir: Path, tmp_path: Path
) -> None:
    """A registered LoRA adapter (PeftModel) takes the same batched, prefix-shared path."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tuneloop.evaluate.generation import load_for_evaluation
    from tuneloop.project import Project
    from tuneloop.registry import register_model_version

    base = AutoModelForCausalLM.from_pretrained(lively_model_dir)
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(base, config).save_pretrained(tmp_path / "adapter")
    project = Project.open()
    info = register_model_version(
        project,
        name="proj",
        kind="adapter",
        artifact_dir=tmp_path / "adapter",
        base_reference=str(lively_model_dir),
        base_weights_sha256="0" * 64,
    )
    loaded = load_for_evaluation(project, info.reference)
    assert loaded.resolved.adapter_path is not None
    settings = GenerationSettings(max_new_tokens=8, batch_size=6)
    batched = generate_batch(loaded, conversations(), settings, autocast=False)
    single = [generate_batch(loaded, [c], settings, autocast=False)[0] for c in conversations()]
    assert [g.text for g in batched] == [g.text for g in single]
    base_loaded = load_model(resolve_model(str(lively_model_dir)))
    plain = generate_batch(base_loaded, conversations(), settings, autocast=False)
    assert [g.text for g in plain] != [g.text for g in batched]  # the adapter changes the answers
