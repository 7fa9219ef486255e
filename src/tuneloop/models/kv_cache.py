"""The KV cache of a prefix shared by every row of a batch, computed once and repeated per row.

Used by evaluation's generation (prompts share the template's preamble and the system prompt) and by
training (chat examples share the system prompt): the shared tokens go through the model once, with
batch size 1, and the rows continue from the repeated cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

MIN_SHARED_PREFIX = 16
"""Shorter common prefixes are not worth a separate forward pass."""


def common_prefix_length(rows: list[list[int]]) -> int:
    """Tokens every row starts with, leaving each row at least one token of its own."""
    if len(rows) < 2:
        return 0
    limit = min(len(r) for r in rows) - 1
    length = 0
    first = rows[0]
    while length < limit and all(r[length] == first[length] for r in rows):
        length += 1
    return length


def prefix_cache(model: Any, prefix_ids: torch.Tensor, repeats: int, **forward_kwargs: Any) -> Any | None:
    """Forward ``prefix_ids`` ([1, prefix]) with ``use_cache=True`` and repeat the cache ``repeats``
    times along the batch; None if this model's cache cannot be repeated.

    The forward runs under the caller's grad mode: under autograd the cached keys and values stay in
    the graph (repeating and the later concatenation are differentiable), so gradients of the rows'
    losses flow back through the prefix exactly as in the unshared forward.

    ``model`` is a transformers causal LM; the cache returned is transformers' ``Cache`` (untyped here,
    its class depends on the architecture)."""
    output = model(input_ids=prefix_ids, use_cache=True, **forward_kwargs)
    cache = getattr(output, "cache", None) or getattr(output, "past_key_values", None)
    if cache is None or not hasattr(cache, "batch_repeat_interleave"):
        return None
    cache.batch_repeat_interleave(repeats)
    return cache
