"""The base-model catalog: typed entries, look-up, filters, a serving-cost estimate and recommendations.

The data lives in ``catalog.yaml`` beside this module (packaged with ``tuneloop.models``); this module
validates it strictly, so an unknown or missing key is an error rather than a silent default.

Cost model (see :func:`estimate_cost_per_million_tokens`): generating one token costs about
``2 × active parameters`` FLOPs, served at a fraction (``utilisation``) of a GPU's peak; the number of
GPUs a replica needs comes from the weights' memory. It is an order-of-magnitude comparison between
models under stated assumptions, not a price quote.
"""

from __future__ import annotations

import difflib
import functools
import math
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML

from tuneloop.errors import InvalidInput, Location, NotFound
from tuneloop.models.licence import LicenceDecision, UseDeclaration, check_licence

CATALOG_PACKAGE = "tuneloop.models"
CATALOG_FILE = "catalog.yaml"
REFERENCE_MODEL_ID = "llama-3.1-70b-instruct"
"""The large base model that :func:`compare_to_reference` measures others against."""

_ID_PATTERN = r"^[a-z0-9][a-z0-9.-]*$"
_GIB = 2**30


class LicenceInfo(BaseModel):
    """What a model's licence permits and requires, with a URL where the text can be checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    """SPDX id where one exists (``apache-2.0``, ``mit``), else e.g. ``llama3.1``, ``gemma``, ``qwen``."""
    name: str = Field(min_length=1)
    """The licence's own title."""
    commercial_use: bool
    """The licence permits commercial use at all."""
    conditions: list[str]
    """Plain-English duties that come with using the model."""
    max_monthly_active_users: int | None = Field(ge=1)
    """Above this many monthly active users a separate licence is required; None: no cap."""
    source_url: str = Field(pattern=r"^https://\S+$")
    """Licence text or model card where these facts can be checked."""
    requires_acceptance: bool
    """The Hugging Face download is gated behind accepting terms or sharing contact details."""


class Tooling(BaseModel):
    """Facts fine-tuning code needs about the architecture and tokenizer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lora_targets: list[str] = Field(min_length=1)
    """Module names PEFT LoRA should wrap."""
    chat_template: bool
    """The tokenizer ships a chat template."""
    qlora: bool
    """4-bit (bitsandbytes) base loading with LoRA on top is a sensible memory saving here."""
    end_of_turn_token: str = Field(min_length=1)
    """The token that closes an assistant turn."""


class CatalogEntry(BaseModel):
    """One base model in the catalog; mirrors an entry of ``catalog.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN)
    """Lowercase slug used in ``base:<id>``."""
    name: str = Field(min_length=1)
    """Human-readable name."""
    hf_repo: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    """Hugging Face repository of the weights."""
    family: str = Field(min_length=1)
    """Model family, e.g. ``llama``, ``qwen``."""
    architecture: str = Field(min_length=1)
    """transformers class from the repo's ``config.json``."""
    params_b: float = Field(gt=0)
    """Total parameters, in billions."""
    active_params_b: float = Field(gt=0)
    """Parameters used per token, in billions (smaller than ``params_b`` only for mixture-of-experts)."""
    context_window: int = Field(gt=0)
    """Tokens supported out of the box by the released config/model card."""
    bundled: bool = False
    """Shipped offline inside a pip package; no download needed."""
    licence: LicenceInfo
    """Licence terms."""
    tooling: Tooling
    """Fine-tuning facts."""
    notes: str = ""
    """Caveats, and values taken from the model card without other checks."""

    @model_validator(mode="after")
    def _active_within_total(self) -> CatalogEntry:
        if self.active_params_b > self.params_b:
            raise ValueError(f"active_params_b {self.active_params_b} exceeds params_b {self.params_b}")
        return self

    @property
    def is_moe(self) -> bool:
        """True for mixture-of-experts models (fewer active than total parameters)."""
        return self.active_params_b < self.params_b


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[CatalogEntry]


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


class Recommendation(BaseModel):
    """A ranked candidate base model with the reasons it qualified."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(ge=1)
    """1 is the cheapest qualifying model."""
    entry: CatalogEntry
    """The catalog entry."""
    usd_per_million_tokens: float
    """Estimated serving cost, the ranking key."""
    gpus_needed: int
    """GPUs one replica needs."""
    reasons: list[str]
    """Why the model qualified (licence, context, cost)."""
    licence: LicenceDecision
    """The licence decision for the declared use, with its conditions."""


@functools.lru_cache(maxsize=1)
def _cached_catalog() -> tuple[CatalogEntry, ...]:
    text = resources.files(CATALOG_PACKAGE).joinpath(CATALOG_FILE).read_text(encoding="utf-8")
    return tuple(parse_catalog(YAML(typ="safe").load(text)))


def load_catalog() -> list[CatalogEntry]:
    """Read and validate the packaged ``catalog.yaml``; parsed once per process, then cached.

    Entries are frozen, so the cached copy cannot be changed through the returned list.

    Raises:
        InvalidInput: ``invalid_catalog`` when the data file breaks the schema or repeats an id.
    """
    return list(_cached_catalog())


def parse_catalog(data: Any, source: str = CATALOG_FILE) -> list[CatalogEntry]:
    """Validate already-loaded catalog data (a mapping with a ``models`` list).

    Raises:
        InvalidInput: ``invalid_catalog`` naming the first bad field, or a repeated id.
    """
    try:
        entries = _CatalogFile.model_validate(data).models
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(
            "invalid_catalog",
            f"{first['msg']} ({exc.error_count()} problem(s))",
            Location(source, None, field),
        ) from exc
    _reject_duplicate_ids(entries, source)
    return entries


def _reject_duplicate_ids(entries: list[CatalogEntry], source: str) -> None:
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if entry.id in seen:
            raise InvalidInput(
                "invalid_catalog", f"duplicate id '{entry.id}'", Location(source, None, f"models.{index}.id")
            )
        seen.add(entry.id)


def get_entry(catalog_id: str) -> CatalogEntry:
    """Return the entry with ``catalog_id``; a leading ``base:`` (as in ``model.base``) is accepted.

    Raises:
        NotFound: ``unknown_model`` naming close matches when there is no such entry.
    """
    wanted = catalog_id.removeprefix("base:").strip().lower()
    entries = load_catalog()
    for entry in entries:
        if entry.id == wanted:
            return entry
    raise NotFound("unknown_model", _unknown_message(catalog_id, [e.id for e in entries]))


def _unknown_message(catalog_id: str, ids: list[str]) -> str:
    close = difflib.get_close_matches(catalog_id.removeprefix("base:").lower(), ids, n=3, cutoff=0.5)
    hint = f"close matches: {', '.join(close)}" if close else "run `tuneloop models list` to see the catalog"
    return f"no catalog entry '{catalog_id}'; {hint}"


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


def filter_entries(
    entries: list[CatalogEntry],
    *,
    commercial: bool | None = None,
    max_params_b: float | None = None,
    min_context: int | None = None,
) -> list[CatalogEntry]:
    """Keep entries matching every given criterion, in their original order; None skips a criterion.

    ``commercial=True`` keeps licences that permit commercial use, ``False`` keeps those that do not.
    ``max_params_b`` compares total parameters; ``min_context`` is inclusive.
    """
    return [
        e
        for e in entries
        if (commercial is None or e.licence.commercial_use == commercial)
        and (max_params_b is None or e.params_b <= max_params_b)
        and (min_context is None or e.context_window >= min_context)
    ]


def recommend(
    entries: list[CatalogEntry],
    *,
    min_context: int | None = None,
    commercial: bool,
    monthly_active_users: int | None = None,
    max_params_b: float | None = None,
    require_chat_template: bool = True,
    assumptions: CostAssumptions = CostAssumptions(),
) -> list[Recommendation]:
    """Rank the base models that fit a declared use, cheapest to serve first.

    Objective: keep entries whose licence allows the declared use (:func:`check_licence` with
    ``commercial`` and ``monthly_active_users``), whose context window is at least ``min_context``,
    whose total parameters are at most ``max_params_b`` and, when ``require_chat_template``, whose
    tokenizer ships a chat template. Rank them by estimated inference cost per million tokens
    (:func:`estimate_cost_per_million_tokens`) ascending; break ties by larger context window, then
    fewer total parameters, then id. Quality is deliberately not scored: fine-tuning and
    ``tuneloop eval`` decide that; this picks the cheapest starting points worth trying.
    """
    use = UseDeclaration(commercial=commercial, monthly_active_users=monthly_active_users)
    candidates = filter_entries(entries, max_params_b=max_params_b, min_context=min_context)
    scored = []
    for entry in candidates:
        decision = check_licence(entry, use)
        if not decision.allowed or (require_chat_template and not entry.tooling.chat_template):
            continue
        scored.append((entry, decision, estimate_cost_per_million_tokens(entry, assumptions)))
    scored.sort(key=lambda s: (s[2].usd_per_million_tokens, -s[0].context_window, s[0].params_b, s[0].id))
    return [
        Recommendation(
            rank=rank,
            entry=entry,
            usd_per_million_tokens=cost.usd_per_million_tokens,
            gpus_needed=cost.gpus_needed,
            reasons=_recommend_reasons(entry, decision, cost, min_context),
            licence=decision,
        )
        for rank, (entry, decision, cost) in enumerate(scored, start=1)
    ]


def _recommend_reasons(
    entry: CatalogEntry, decision: LicenceDecision, cost: CostEstimate, min_context: int | None
) -> list[str]:
    context = f"context {entry.context_window:,} tokens"
    if min_context is not None:
        context += f" ≥ required {min_context:,}"
    a = cost.assumptions
    return [
        *decision.reasons,
        context,
        f"~${cost.usd_per_million_tokens:.4f} per million tokens on {cost.gpus_needed}× {a.gpu} "
        f"(${a.gpu_hourly_usd:.2f}/h, {a.utilisation:.0%} utilisation)",
    ]


def render_markdown_table(entries: list[CatalogEntry]) -> str:
    """The catalog as a Markdown table (id, params, context, licence, commercial), as in the docs."""
    lines = [
        "| id | params (B) | context | licence | commercial |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for e in entries:
        params = f"{e.params_b:g}" if not e.is_moe else f"{e.params_b:g} ({e.active_params_b:g} active)"
        commercial = "yes" if e.licence.commercial_use else "no"
        lines.append(f"| `{e.id}` | {params} | {e.context_window:,} | {e.licence.id} | {commercial} |")
    return "\n".join(lines) + "\n"


__all__ = [
    "REFERENCE_MODEL_ID",
    "CatalogEntry",
    "CostAssumptions",
    "CostEstimate",
    "LicenceInfo",
    "Recommendation",
    "Tooling",
    "compare_to_reference",
    "estimate_cost_per_million_tokens",
    "filter_entries",
    "get_entry",
    "load_catalog",
    "monthly_cost",
    "parse_catalog",
    "recommend",
    "render_markdown_table",
]
