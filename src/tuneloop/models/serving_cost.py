"""What serving a catalog model costs: GPU-seconds and dollars per million generated tokens.

Cost model (see :func:`estimate_cost_per_million_tokens`): generating one token costs about
``2 × active parameters`` FLOPs, served at a fraction (``utilisation``) of a GPU's peak; the number of
GPUs a replica needs comes from the weights' memory. It is an order-of-magnitude comparison between
models under stated assumptions, not a price quote. (Training cost is :mod:`tuneloop.models.cost`.)
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tuneloop.errors import InvalidInput
from tuneloop.models.catalog import CatalogEntry, get_entry

REFERENCE_MODEL_ID = "llama-3.1-70b-instruct"
"""The large base model that :func:`compare_to_reference` measures others against."""

_GIB = 2**30


class CostAssumptions(BaseModel):
    """Inputs of the serving-cost estimate; every default is stated so a reader can disagree with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu: str = "A100-80GB"
    """GPU the estimate prices."""
    gpu_hourly_usd: float = Field(default=2.0, gt=0)
    """Price of one GPU-hour; 2.00 USD is an on-demand cloud list-price ballpark for an A100 80GB."""
    peak_flops: float = Field(default=312e12, gt=0)
    """Peak dense bf16 FLOP/s of one GPU (A100: 312 TFLOP/s)."""
    utilisation: float = Field(default=0.3, gt=0, le=1)
    """Fraction of peak achieved (model-FLOPs utilisation) in batched serving; it absorbs the
    memory-bandwidth limits of decoding."""
    gpu_memory_gb: float = Field(default=80.0, gt=0)
    """Memory per GPU in GiB (2**30 bytes), as vendors' "80GB" and nvidia-smi mean it."""
    bytes_per_param: float = Field(default=2.0, gt=0)
    """Bytes per weight: 2 for bf16/fp16, 1 for int8/fp8, 0.5 for 4-bit."""
    memory_overhead: float = Field(default=1.2, ge=1)
    """Multiplier on weight memory for the KV cache, activations and the serving runtime."""
    hours_per_month: float = Field(default=730.0, gt=0)
    """Hours in an average month (8760 / 12), used for the always-on floor."""
    always_on: bool = False
    """When True, :func:`monthly_cost` never falls below keeping one replica (``gpus_needed`` GPUs)
    running all month, as a dedicated deployment does; False prices tokens only, as on a shared pool."""


class CostEstimate(BaseModel):
    """Estimated cost of generating tokens with one model under :class:`CostAssumptions`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    catalog_id: str
    """The entry estimated."""
    usd_per_million_tokens: float
    """GPU cost of generating one million tokens."""
    gpu_seconds_per_million_tokens: float
    """GPU time for one million tokens, summed over GPUs."""
    gpus_needed: int
    """GPUs one replica needs to hold the weights (the memory floor)."""
    weights_gib: float
    """Weight memory in GiB at ``bytes_per_param``, before overhead."""
    min_monthly_usd: float
    """Cost of keeping one replica running all month (the always-on floor)."""
    assumptions: CostAssumptions
    """The assumptions used."""


def estimate_cost_per_million_tokens(
    entry: CatalogEntry, assumptions: CostAssumptions = CostAssumptions()
) -> CostEstimate:
    """Estimate the GPU cost of generating one million tokens with ``entry``.

    Formula (N_active = active parameters, N_total = total parameters)::

        FLOPs per token            ≈ 2 × N_active           (one multiply-add per weight used)
        GPU-seconds per 1M tokens  = 2 × N_active × 1e6 / (peak_flops × utilisation)
        USD per 1M tokens          = GPU-seconds / 3600 × gpu_hourly_usd
        GPUs needed                = ceil(N_total × bytes_per_param × memory_overhead / gpu_memory)

    Compute scales with active parameters, memory with total parameters (a mixture-of-experts model
    must hold every expert). Splitting a model over several GPUs does not change its GPU-seconds per
    token in this model, so ``gpus_needed`` affects only the always-on floor (``min_monthly_usd``).
    Decoding is memory-bandwidth bound at small batch sizes; the ``utilisation`` default (0.3) is a
    batched-serving figure that folds that in. Prefill (prompt) tokens are cheaper in practice and are
    priced the same here, which overstates cost for long prompts equally across models.
    """
    a = assumptions
    gpu_seconds = 2 * entry.active_params_b * 1e9 * 1e6 / (a.peak_flops * a.utilisation)
    weights_bytes = entry.params_b * 1e9 * a.bytes_per_param
    gpus = max(1, math.ceil(weights_bytes * a.memory_overhead / (a.gpu_memory_gb * _GIB)))
    return CostEstimate(
        catalog_id=entry.id,
        usd_per_million_tokens=gpu_seconds / 3600 * a.gpu_hourly_usd,
        gpu_seconds_per_million_tokens=gpu_seconds,
        gpus_needed=gpus,
        weights_gib=weights_bytes / _GIB,
        min_monthly_usd=gpus * a.gpu_hourly_usd * a.hours_per_month,
        assumptions=a,
    )


def monthly_cost(
    entry: CatalogEntry, tokens_per_month: float, assumptions: CostAssumptions = CostAssumptions()
) -> float:
    """Estimated USD per month to generate ``tokens_per_month`` tokens with ``entry``.

    ``tokens_per_month / 1e6 × usd_per_million_tokens``; with ``assumptions.always_on`` it is never
    below the cost of keeping one replica running all month.
    """
    if tokens_per_month < 0:
        raise InvalidInput("invalid_tokens", f"tokens_per_month must be >= 0, got {tokens_per_month}")
    estimate = estimate_cost_per_million_tokens(entry, assumptions)
    variable = tokens_per_month / 1e6 * estimate.usd_per_million_tokens
    return max(variable, estimate.min_monthly_usd) if assumptions.always_on else variable


def compare_to_reference(
    entry: CatalogEntry,
    tokens_per_month: float,
    reference_id: str = REFERENCE_MODEL_ID,
    assumptions: CostAssumptions = CostAssumptions(),
) -> dict[str, Any]:
    """Compare ``entry``'s monthly serving cost with a large reference model's.

    Returns a dict with ``model_id``, ``reference_id``, ``tokens_per_month``, ``monthly_cost_usd``,
    ``reference_monthly_cost_usd``, ``ratio`` (reference / model, i.e. "the model costs N× less"; None
    when the model's cost is zero, as at zero tokens), the GPUs each needs and the assumptions used.
    """
    reference = get_entry(reference_id)
    model_usd = monthly_cost(entry, tokens_per_month, assumptions)
    reference_usd = monthly_cost(reference, tokens_per_month, assumptions)
    return {
        "model_id": entry.id,
        "reference_id": reference.id,
        "tokens_per_month": tokens_per_month,
        "monthly_cost_usd": model_usd,
        "reference_monthly_cost_usd": reference_usd,
        "ratio": reference_usd / model_usd if model_usd > 0 else None,
        "model_gpus_needed": estimate_cost_per_million_tokens(entry, assumptions).gpus_needed,
        "reference_gpus_needed": estimate_cost_per_million_tokens(reference, assumptions).gpus_needed,
        "assumptions": assumptions.model_dump(),
    }


__all__ = [
    "REFERENCE_MODEL_ID",
    "CostAssumptions",
    "CostEstimate",
    "compare_to_reference",
    "estimate_cost_per_million_tokens",
    "monthly_cost",
]
