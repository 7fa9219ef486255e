"""Batched generation for evaluation and red-teaming: left padding, KV cache, a disk cache, a progress bar.

``generate_batch(loaded, conversations, settings)`` renders each conversation with the model's chat
template, skips those already in the :class:`~tuneloop.evaluate.cache.GenerationCache`, sorts the rest
by length (so a batch holds prompts of similar length and little padding), and runs Hugging Face
``generate`` on left-padded batches with its KV cache under bf16 autocast where the CPU has AMX.
``generate_for_model(project, reference, ...)`` does the same from a model reference, keeping the last
few loaded models in memory so a baseline used by several suites is loaded once per process.

Run ``benchmarks/eval_generation.py`` to compare this path with a per-item ``generate`` loop.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field

from tuneloop.config._base import StrictModel
from tuneloop.console import progress_bar
from tuneloop.evaluate.cache import GenerationCache, cache_key

if TYPE_CHECKING:
    from tuneloop.models.loading import LoadedModel
    from tuneloop.project import Project

Conversation = list[dict[str, Any]]


class GenerationSettings(StrictModel):
    """Decoding settings shared by every model of an evaluation (same items, same settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    max_new_tokens: int = Field(default=256, ge=1)
    """Most tokens generated per answer."""
    temperature: float = Field(default=0.0, ge=0.0)
    """0 means greedy decoding (deterministic); above 0 samples."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    """Nucleus sampling mass (only when sampling)."""
    num_samples: int = Field(default=1, ge=1)
    """Answers per prompt (the consistency metric asks for several at temperature > 0)."""
    seed: int = 0
    """Seed set before each batch when sampling."""
    batch_size: int = Field(default=16, ge=1)
    """Prompts per forward pass. Not part of the cache key: it changes speed, not answers."""
    stop: tuple[str, ...] = ()
    """Strings that end an answer (the answer is cut before them)."""
    repetition_penalty: float = Field(default=1.0, gt=0.0)
    """>1 discourages repeating tokens; 1 disables it."""

    def cache_fields(self) -> dict[str, Any]:
        """The settings that change what is generated (the cache key's part)."""
        fields = self.model_dump(mode="json", exclude={"batch_size"})
        if self.temperature == 0:
            # Greedy answers do not depend on the sampling knobs; keep them out of the key.
            fields = {k: v for k, v in fields.items() if k not in ("top_p", "seed")}
        return fields


@dataclass(frozen=True)
class Generation:
    """One answer (and, with ``num_samples > 1``, all sampled answers) to one conversation."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    """Wall time of the batch that produced it: how long this answer took to come back."""
    finish_reason: str
    """``stop`` (end of turn or a stop string) or ``length`` (hit ``max_new_tokens``)."""
    samples: tuple[str, ...] = ()
    """Every sampled answer; ``samples[0] == text``."""
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": self.latency_s,
            "finish_reason": self.finish_reason,
            "samples": list(self.samples),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], cached: bool = False) -> Generation:
        return cls(
            text=data["text"],
            prompt_tokens=int(data["prompt_tokens"]),
            completion_tokens=int(data["completion_tokens"]),
            latency_s=float(data["latency_s"]),
            finish_reason=str(data["finish_reason"]),
            samples=tuple(data.get("samples") or (data["text"],)),
            cached=cached,
        )


def render_prompt(tokenizer: Any, conversation: Conversation) -> str:
    """The exact text the model sees: the chat template with the assistant turn opened."""
    return tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)


def generation_key(identity: str, prompt: str, settings: GenerationSettings) -> str:
    """Cache key of one answer: model identity, rendered prompt and the settings that matter."""
    return cache_key("generation", identity, prompt, settings.cache_fields())


def generate_batch(
    loaded: LoadedModel,
    conversations: Sequence[Conversation],
    settings: GenerationSettings,
    *,
    cache: GenerationCache | None = None,
    progress: bool = True,
    autocast: bool | None = None,
    description: str = "generating",
) -> list[Generation]:
    """Answer every conversation; returns one :class:`Generation` per conversation, in order.

    ``autocast`` None uses bf16 autocast where the hardware makes it fast (AMX CPUs, GPUs).
    """
    tokenizer = loaded.tokenizer
    prompts = [render_prompt(tokenizer, list(conversation)) for conversation in conversations]
    keys = [generation_key(loaded.resolved.identity, prompt, settings) for prompt in prompts]
    found = cache.get_many(sorted(set(keys))) if cache is not None else {}
    # Identical prompts (repeated items, shared red-team seeds) are generated once.
    todo: dict[str, str] = {key: prompt for key, prompt in zip(keys, prompts, strict=True) if key not in found}
    fresh = _generate_missing(loaded, todo, settings, cache, progress, autocast, description)
    results = []
    for key in keys:
        if key in fresh:
            results.append(fresh[key])
        else:
            results.append(Generation.from_dict(found[key], cached=True))
    return results


def _generate_missing(
    loaded: LoadedModel,
    todo: dict[str, str],
    settings: GenerationSettings,
    cache: GenerationCache | None,
    progress: bool,
    autocast: bool | None,
    description: str,
) -> dict[str, Generation]:
    if not todo:
        return {}
    tokenizer = loaded.tokenizer
    lengths = {key: len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) for key, prompt in todo.items()}
    # Longest first: similar lengths share a batch (little padding) and memory peaks at the start.
    ordered = sorted(todo, key=lambda key: -lengths[key])
    generated: dict[str, Generation] = {}
    produced_tokens, started = 0, time.perf_counter()
    with progress_bar(transient=True, quiet=not progress) as bar:
        task = bar.add_task(description, total=len(ordered), status="")
        for start in range(0, len(ordered), settings.batch_size):
            batch_keys = ordered[start : start + settings.batch_size]
            outputs = _generate_one_batch(loaded, [todo[key] for key in batch_keys], settings, autocast)
            batch = dict(zip(batch_keys, outputs, strict=True))
            generated.update(batch)
            if cache is not None:
                # Written batch by batch: an interrupted evaluation resumes where it stopped.
                cache.put_many({key: generation.to_dict() for key, generation in batch.items()})
            produced_tokens += sum(g.completion_tokens for g in outputs)
            rate = produced_tokens / max(time.perf_counter() - started, 1e-9)
            bar.update(task, advance=len(batch_keys), status=f"{rate:,.0f} tok/s")
    return generated


def _end_token_ids(loaded: LoadedModel) -> list[int]:
    configured = getattr(loaded.model.generation_config, "eos_token_id", None)
    ids = configured if isinstance(configured, list) else [configured]
    ids.append(loaded.tokenizer.eos_token_id)
    return sorted({int(i) for i in ids if i is not None})


def _generate_one_batch(
    loaded: LoadedModel, prompts: list[str], settings: GenerationSettings, autocast: bool | None
) -> list[Generation]:
    import torch

    from tuneloop.models.loading import autocast_context

    tokenizer = loaded.tokenizer
    previous_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # new tokens must follow each prompt directly
    try:
        inputs = tokenizer(prompts, add_special_tokens=False, padding=True, return_tensors="pt")
    finally:
        tokenizer.padding_side = previous_side
    inputs = inputs.to(loaded.device)
    end_ids = _end_token_ids(loaded)
    sampling = settings.temperature > 0
    kwargs: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "do_sample": sampling,
        "num_return_sequences": settings.num_samples,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": end_ids,
        "use_cache": True,
        "repetition_penalty": settings.repetition_penalty,
    }
    if sampling:
        kwargs |= {"temperature": settings.temperature, "top_p": settings.top_p}
        torch.manual_seed(settings.seed)
    else:
        # Greedy: clear sampling defaults a model's generation_config may carry (avoids warnings).
        kwargs |= {"temperature": None, "top_p": None, "top_k": None}
    if settings.stop:
        kwargs |= {"stop_strings": list(settings.stop), "tokenizer": tokenizer}
    started = time.perf_counter()
    with torch.inference_mode(), autocast_context(loaded.device, autocast):
        output = loaded.model.generate(**inputs, **kwargs)
    latency = time.perf_counter() - started
    prompt_width = inputs["input_ids"].shape[1]
    prompt_counts = inputs["attention_mask"].sum(dim=1).tolist()
    texts, counts, reasons = [], [], []
    for row in output[:, prompt_width:].tolist():
        text, count, reason = _decode_answer(tokenizer, row, end_ids, settings)
        texts.append(text)
        counts.append(count)
        reasons.append(reason)
    k = settings.num_samples
    return [
        Generation(
            text=texts[i * k],
            prompt_tokens=int(prompt_counts[i]),
            completion_tokens=counts[i * k],
            latency_s=latency,
            finish_reason=reasons[i * k],
            samples=tuple(texts[i * k : (i + 1) * k]),
        )
        for i in range(len(prompts))
    ]


def _decode_answer(
    tokenizer: Any, row: list[int], end_ids: list[int], settings: GenerationSettings
) -> tuple[str, int, str]:
    """Text up to the end-of-turn token or a stop string, its token count and why it ended."""
    ended = next((i for i, token in enumerate(row) if token in end_ids), None)
    tokens = row if ended is None else row[:ended]
    text = tokenizer.decode(tokens, skip_special_tokens=True)
    reason = "stop" if ended is not None else "length"
    for stop in settings.stop:
        cut = text.find(stop)
        if cut >= 0:
            text, reason = text[:cut], "stop"
    return text.strip(), len(tokens), reason


# --------------------------------------------------------------------------------------------------
# Models by reference, loaded once per process


@dataclass
class _LoadedModels:
    """An LRU of loaded models keyed on the resolved identity (an alias that moves loads anew)."""

    capacity: int = 2
    entries: OrderedDict[str, LoadedModel] = field(default_factory=OrderedDict)

    def get(self, identity: str) -> LoadedModel | None:
        if identity in self.entries:
            self.entries.move_to_end(identity)
            return self.entries[identity]
        return None

    def put(self, identity: str, loaded: LoadedModel) -> None:
        self.entries[identity] = loaded
        self.entries.move_to_end(identity)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)


_MODELS = _LoadedModels()
_CACHES: dict[Path, GenerationCache] = {}


def project_cache(project: Project) -> GenerationCache:
    """The project's generation cache (one open handle per process)."""
    path = project.cache_dir / "evaluate"
    if path not in _CACHES:
        _CACHES[path] = GenerationCache.for_directory(path)
    return _CACHES[path]


def load_for_evaluation(project: Project | None, reference: str) -> LoadedModel:
    """Resolve ``reference`` and load it, reusing a model this process already loaded."""
    from tuneloop.models.loading import load_model
    from tuneloop.models.resolve import resolve_model

    resolved = resolve_model(reference, project)
    loaded = _MODELS.get(resolved.identity)
    if loaded is None:
        dtype = project.config.model.dtype if project is not None else "auto"
        template = None
        if project is not None and project.config.model.chat_template:
            template = project.resolve_path(project.config.model.chat_template).read_text(encoding="utf-8")
        loaded = load_model(resolved, dtype=dtype, chat_template=template)
        _MODELS.put(resolved.identity, loaded)
    return loaded


def forget_loaded_models() -> None:
    """Drop every model this process keeps loaded (frees memory between stages)."""
    _MODELS.entries.clear()


def generate_for_model(
    project: Project | None,
    reference: str,
    conversations: Sequence[Conversation],
    settings: GenerationSettings,
    *,
    use_cache: bool = True,
    progress: bool = True,
) -> list[Generation]:
    """Resolve, load (once per process) and run ``reference`` on ``conversations``."""
    loaded = load_for_evaluation(project, reference)
    cache = project_cache(project) if (use_cache and project is not None) else None
    label = loaded.resolved.label or reference
    return generate_batch(
        loaded, conversations, settings, cache=cache, progress=progress, description=f"{label}"
    )
