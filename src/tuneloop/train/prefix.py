"""Shared-prefix training: the tokens every row of a micro-batch starts with go through the model once.

Chat data often repeats one system prompt (hundreds of tokens) in every example. For a length-grouped
micro-batch whose rows all start with the same tokens, the forward pass runs in two stages:

1. the shared prefix alone, batch size 1, ``use_cache=True``, *with* autograd (not under no_grad);
2. every row's suffix, continuing from that KV cache repeated over the rows, position ids starting at
   the prefix length.

The repeated keys and values stay in the autograd graph, so the suffix's gradients flow back into the
prefix: loss and gradients equal the unshared forward (a test checks both numerically), while the
prefix's projections and MLPs run once instead of once per row. Rows stay right-padded without an
attention mask, for the same reason as the plain layout: a real token never sees the padding after it.

The prefix ends before the first position whose logit is needed (the system prompt and user turn
carry no loss anyway), so logits are only computed in the suffix forward. Models without a
repeatable cache, models without ``logits_to_keep``, and training with gradient checkpointing (which
drops the cache inside checkpointed layers) take the plain path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tuneloop.models import MIN_SHARED_PREFIX, common_prefix_length, prefix_cache

if TYPE_CHECKING:
    from tuneloop.train.batching import Batch
    from tuneloop.train.tokenize import TokenizedSequence


def shared_prefix_length(
    sequences: Sequence[TokenizedSequence], minimum: int = MIN_SHARED_PREFIX
) -> int | None:
    """Tokens shared by every sequence (one per row) that can be forwarded once, or None.

    The prefix ends at the first position of any row whose next token is a label, so no logit is
    needed inside it, and leaves each row at least one token of its own. None for fewer than two
    rows or a prefix under ``minimum`` tokens."""
    from tuneloop.train.tokenize import IGNORE

    if len(sequences) < 2:
        return None
    length = common_prefix_length([list(s.input_ids) for s in sequences])
    for sequence in sequences:
        # position t predicts token t+1: the first needed logit sits one before the first label
        first_label = next((t for t, label in enumerate(sequence.labels) if label != IGNORE), None)
        if first_label is not None:
            length = min(length, first_label - 1)
    return length if length >= minimum else None


def checkpointing_drops_cache(model: Any) -> bool:
    """Whether this forward would run checkpointed layers, which ignore a passed cache."""
    import torch

    if not (torch.is_grad_enabled() and model.training):
        return False
    return any(getattr(module, "gradient_checkpointing", False) is True for module in model.modules())


def shared_prefix_logits(model: Any, batch: Batch, *, bf16: bool = False) -> Any | None:
    """Logits at ``batch.logits_mask`` (flattened, row-major) with the shared prefix forwarded once;
    None when this model cannot share it (the caller then runs the plain forward)."""
    import torch

    from tuneloop.models import autocast_context

    prefix = batch.shared_prefix
    if not prefix or batch.position_ids is not None or checkpointing_drops_cache(model):
        return None
    rows, width = batch.input_ids.shape
    device = batch.input_ids.device
    with autocast_context(device.type, enabled=bf16):
        # logits_to_keep=1: the prefix predicts no label (see shared_prefix_length); one position
        # keeps the head's work negligible
        cache = prefix_cache(model, batch.input_ids[:1, :prefix], rows, logits_to_keep=1)
        if cache is None:
            return None
        positions = torch.arange(prefix, width, device=device).unsqueeze(0).expand(rows, -1)
        logits = model(
            input_ids=batch.input_ids[:, prefix:],
            position_ids=positions,
            cache=cache,
            use_cache=True,
            logits_to_keep=batch.logits_mask[:, prefix:],
        ).logits
    if cache.get_seq_length() != width:  # a model that ignored the cache saw the suffixes alone
        return None
    return logits
