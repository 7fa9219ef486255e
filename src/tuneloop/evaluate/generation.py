"""Batched generation for evaluation and red-teaming: left padding, KV cache, a disk cache, a progress bar.

``generate_batch(loaded, conversations, settings)`` renders each conversation with the model's chat
template, skips those already in the :class:`~tuneloop.evaluate.cache.GenerationCache`, sorts the rest
by length (so a batch holds prompts of similar length and little padding), and runs Hugging Face
``generate`` on padded batches with its KV cache, the prompts' shared head computed once per batch
(:mod:`tuneloop.evaluate.decoding`), under bf16 autocast where the CPU has AMX.
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

from tuneloop.config.model import ModelSection
from tuneloop.evaluate.cache import GenerationCache, cache_key
from tuneloop.evaluate.decoding import Generation, GenerationSettings, generate_one_batch
from tuneloop.models import render_chat
from tuneloop.progress import SILENT, Progress

if TYPE_CHECKING:
    from tuneloop.models import LoadedModel, ResolvedModel
    from tuneloop.project import Project

Conversation = list[dict[str, Any]]
Tools = list[dict[str, Any]] | None
"""Tool (function) definitions offered in a conversation, as training rendered them."""


def render_prompt(tokenizer: Any, conversation: Conversation, tools: Tools = None) -> str:
    """The exact text the model sees: the chat template with the assistant turn opened.

    ``tools`` are rendered exactly as training renders a record's tools, so a tool-using dataset is
    evaluated on the prompts it was trained on (the same :func:`render_chat`).

    A conversation ending with an assistant message is a *prefill*: the model continues that message
    (judges start their answer with ``{"score":``; red-team prefill attacks use the same path). The
    returned :class:`Generation` holds only the continuation.
    """
    return render_chat(tokenizer, conversation, tools=tools, ending="auto")


def _render_all(
    tokenizer: Any, conversations: Sequence[Conversation], tools: Sequence[Tools] | None
) -> list[str]:
    offered = list(tools) if tools is not None else [None] * len(conversations)
    if len(offered) != len(conversations):
        raise ValueError(f"{len(offered)} tool lists for {len(conversations)} conversations")
    return [render_prompt(tokenizer, list(c), t) for c, t in zip(conversations, offered, strict=True)]


def generation_key(identity: str, prompt: str, settings: GenerationSettings) -> str:
    """Cache key of one answer: model identity, rendered prompt and the settings that matter."""
    return cache_key("generation", identity, prompt, settings.cache_fields())


def generate_batch(
    loaded: LoadedModel,
    conversations: Sequence[Conversation],
    settings: GenerationSettings,
    *,
    cache: GenerationCache | None = None,
    progress: Progress = SILENT,
    autocast: bool | None = None,
    description: str = "generating",
    share_prefix: bool = True,
    tools: Sequence[Tools] | None = None,
) -> list[Generation]:
    """Answer every conversation; returns one :class:`Generation` per conversation, in order.

    ``tools`` holds each conversation's tool definitions (None: no tools anywhere). ``autocast`` None uses bf16 autocast where the hardware makes it fast (AMX CPUs, GPUs);
    ``share_prefix`` computes the prompts' common head once per batch (see :mod:`.decoding`).
    """
    tokenizer = loaded.tokenizer
    prompts = _render_all(tokenizer, conversations, tools)
    keys = [generation_key(loaded.resolved.identity, prompt, settings) for prompt in prompts]
    found = cache.get_many(sorted(set(keys))) if cache is not None else {}
    # Identical prompts (repeated items, shared red-team seeds) are generated once.
    todo: dict[str, str] = {
        key: prompt for key, prompt in zip(keys, prompts, strict=True) if key not in found
    }
    fresh = _generate_missing(loaded, todo, settings, cache, progress, autocast, description, share_prefix)
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
    progress: Progress,
    autocast: bool | None,
    description: str,
    share_prefix: bool,
) -> dict[str, Generation]:
    if not todo:
        return {}
    tokenizer = loaded.tokenizer
    lengths = {
        key: len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) for key, prompt in todo.items()
    }
    # Longest first: similar lengths share a batch (little padding) and memory peaks at the start.
    ordered = sorted(todo, key=lambda key: -lengths[key])
    generated: dict[str, Generation] = {}
    produced_tokens, started = 0, time.perf_counter()
    with progress.task(description, total=len(ordered)) as task:
        for start in range(0, len(ordered), settings.batch_size):
            batch_keys = ordered[start : start + settings.batch_size]
            outputs = generate_one_batch(
                loaded, [todo[key] for key in batch_keys], settings, autocast, share_prefix
            )
            batch = dict(zip(batch_keys, outputs, strict=True))
            generated.update(batch)
            if cache is not None:
                # Written batch by batch: an interrupted evaluation resumes where it stopped.
                cache.put_many({key: generation.to_dict() for key, generation in batch.items()})
            produced_tokens += sum(g.completion_tokens for g in outputs)
            rate = produced_tokens / max(time.perf_counter() - started, 1e-9)
            task.advance(len(batch_keys), status=f"{rate:,.0f} tok/s")
    return generated


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


def _chat_template(project: Project | None) -> str | None:
    if project is not None and project.config.model.chat_template:
        return project.resolve_path(project.config.model.chat_template).read_text(encoding="utf-8")
    return None


def load_for_evaluation(
    project: Project | None, reference: str, *, progress: Progress = SILENT
) -> LoadedModel:
    """Resolve ``reference`` and load it, reusing a model this process already loaded (a first pull
    of a base model reports through ``progress``)."""
    from tuneloop.models import load_model, resolve_model

    resolved = resolve_model(reference, project, progress=progress)
    loaded = _MODELS.get(resolved.identity)
    if loaded is None:
        dtype = (project.config.model if project is not None else ModelSection()).dtype
        loaded = load_model(resolved, dtype=dtype, chat_template=_chat_template(project))
        _MODELS.put(resolved.identity, loaded)
    return loaded


def describe_model(project: Project | None, reference: str) -> tuple[str, str]:
    """(label, identity) of a reference without loading its weights."""
    from tuneloop.models import resolve_model

    resolved = resolve_model(reference, project)
    return resolved.label or reference, resolved.identity


_TOKENIZERS: dict[tuple[str, str | None], Any] = {}


def _tokenizer(resolved: ResolvedModel, project: Project | None) -> Any:
    """The tokenizer ``load_model`` would give this model (the adapter's own, when it has one)."""
    from tuneloop.models import load_tokenizer

    adapter = resolved.adapter_path
    directory = adapter if adapter and (adapter / "tokenizer_config.json").is_file() else resolved.base_path
    template = _chat_template(project)
    key = (str(directory), template)
    if key not in _TOKENIZERS:
        _TOKENIZERS[key] = load_tokenizer(directory, template)
    return _TOKENIZERS[key]


def cached_answers(
    project: Project,
    reference: str,
    conversations: Sequence[Conversation],
    settings: GenerationSettings,
    tools: Sequence[Tools] | None = None,
) -> list[Generation] | None:
    """Every answer from the disk cache, or None if any is missing (then the model must run)."""
    from tuneloop.models import resolve_model

    resolved = resolve_model(reference, project)
    tokenizer = _tokenizer(resolved, project)
    prompts = _render_all(tokenizer, conversations, tools)
    keys = [generation_key(resolved.identity, prompt, settings) for prompt in prompts]
    found = project_cache(project).get_many(sorted(set(keys)))
    if not all(key in found for key in keys):
        return None
    return [Generation.from_dict(found[key], cached=True) for key in keys]


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
    progress: Progress = SILENT,
    tools: Sequence[Tools] | None = None,
) -> list[Generation]:
    """Resolve, load (once per process) and run ``reference`` on ``conversations`` (offered
    ``tools``, one entry per conversation, as in :func:`generate_batch`).

    When every answer is already cached the weights are not even loaded (gating a candidate right
    after evaluating it, or re-running baselines, costs a tokenizer and a cache lookup).
    """
    cache = project_cache(project) if (use_cache and project is not None) else None
    if cache is not None and project is not None:
        answers = cached_answers(project, reference, conversations, settings, tools)
        if answers is not None:
            return answers
    loaded = load_for_evaluation(project, reference, progress=progress)
    label = loaded.resolved.label or reference
    return generate_batch(
        loaded, conversations, settings, cache=cache, progress=progress, description=label, tools=tools
    )
