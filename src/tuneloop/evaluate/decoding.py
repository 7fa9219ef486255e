"""One batch of generation: settings, results, and the prefix-shared, left-padded ``generate`` call.

Evaluation prompts share a long head — the chat template's preamble, the project's system prompt, the
same few-shot examples — so each batch computes the KV cache of the tokens common to all its prompts
*once*, repeats it across the batch and lets ``generate`` continue from it. Each row is laid out as
``[shared prefix][padding][own suffix]`` with the padding masked out; position ids follow the mask, so
the answers are the ones plain left padding would give (a test checks greedy outputs are identical),
while prefill work drops by the shared share of the prompt. Without a shared head (or for caches that
cannot be repeated) the batch is plainly left-padded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field

from tuneloop.config.strict_model import StrictModel
from tuneloop.models import MIN_SHARED_PREFIX, common_prefix_length, prefix_cache

if TYPE_CHECKING:
    from tuneloop.models import LoadedModel


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
    batch_size: int = Field(default=32, ge=1)
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


def end_token_ids(loaded: LoadedModel) -> list[int]:
    configured = getattr(loaded.model.generation_config, "eos_token_id", None)
    ids = configured if isinstance(configured, list) else [configured]
    ids.append(loaded.tokenizer.eos_token_id)
    return sorted({int(i) for i in ids if i is not None})


@dataclass
class EncodedBatch:
    """Token ids laid out ``[prefix][pad][suffix]`` with the mask that hides the padding."""

    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    prefix_length: int
    prompt_tokens: list[int]


def encode_batch(tokenizer: Any, prompts: list[str], share_prefix: bool) -> EncodedBatch:
    rows = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    prefix = common_prefix_length(rows) if share_prefix else 0
    if prefix < MIN_SHARED_PREFIX:
        prefix = 0
    width = max(len(r) - prefix for r in rows)
    pad = tokenizer.pad_token_id
    ids, mask = [], []
    for row in rows:
        gap = width - (len(row) - prefix)
        ids.append(row[:prefix] + [pad] * gap + row[prefix:])
        mask.append([1] * prefix + [0] * gap + [1] * (len(row) - prefix))
    return EncodedBatch(ids, mask, prefix, [len(r) for r in rows])


def generate_one_batch(
    loaded: LoadedModel,
    prompts: list[str],
    settings: GenerationSettings,
    autocast: bool | None,
    share_prefix: bool = True,
) -> list[Generation]:
    """Generate for one batch of rendered prompts (one :class:`Generation` per prompt)."""
    import torch

    from tuneloop.models import autocast_context

    tokenizer = loaded.tokenizer
    encoded = encode_batch(tokenizer, prompts, share_prefix)
    k = settings.num_samples
    # Rows are repeated k times here (not via num_return_sequences) so a shared cache lines up with them.
    input_ids = torch.tensor([row for row in encoded.input_ids for _ in range(k)], device=loaded.device)
    attention_mask = torch.tensor(
        [row for row in encoded.attention_mask for _ in range(k)], device=loaded.device
    )
    end_ids = end_token_ids(loaded)
    kwargs: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "do_sample": settings.temperature > 0,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": end_ids,
        "use_cache": True,
        "repetition_penalty": settings.repetition_penalty,
    }
    if settings.temperature > 0:
        kwargs |= {"temperature": settings.temperature, "top_p": settings.top_p}
        torch.manual_seed(settings.seed)
    else:
        # Greedy: clear sampling defaults a model's generation_config may carry (avoids warnings).
        kwargs |= {"temperature": None, "top_p": None, "top_k": None}
    if settings.stop:
        kwargs |= {"stop_strings": list(settings.stop), "tokenizer": tokenizer}
    started = time.perf_counter()
    with torch.inference_mode(), autocast_context(loaded.device, autocast):
        if encoded.prefix_length:
            prefix = encoded.input_ids[0][: encoded.prefix_length]
            cache = prefix_cache(loaded.model, torch.tensor([prefix], device=loaded.device), len(input_ids))
            if cache is not None:
                kwargs["cache"] = cache
            else:  # this model's cache cannot be shared: fall back to plain left padding
                return generate_one_batch(loaded, prompts, settings, autocast, share_prefix=False)
        output = loaded.model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
    latency = time.perf_counter() - started
    answers = [
        decode_answer(tokenizer, row, end_ids, settings) for row in output[:, input_ids.shape[1] :].tolist()
    ]
    return [
        Generation(
            text=answers[i * k][0],
            prompt_tokens=encoded.prompt_tokens[i],
            completion_tokens=answers[i * k][1],
            latency_s=latency,
            finish_reason=answers[i * k][2],
            samples=tuple(a[0] for a in answers[i * k : (i + 1) * k]),
        )
        for i in range(len(prompts))
    ]


def decode_answer(
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
