"""Metrics that need a model or several samples: embedding similarity, consistency, refusal, length, latency.

Embedding similarity uses the bundled all-MiniLM-L6-v2 sentence embedder (offline), loaded once per
process. Refusal detection is the red-team stage's detector (``tuneloop.evaluate.refusal``), so
evaluation and red-teaming count a refusal the same way.
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import Field

from tuneloop.data.embeddings import sentence_embedder
from tuneloop.evaluate.metrics.base import (
    MetricDefinition,
    MetricOptions,
    MetricValue,
    SamplingRequest,
    ScoringContext,
    ScoringInput,
    per_item,
    register_metric,
)
from tuneloop.evaluate.metrics.textutil import FieldOption, Normalisation, field_text, normalise


def cosine_similarities(left: list[str], right: list[str], model_path: str | None = None) -> list[float]:
    """Cosine similarity of each pair ``(left[i], right[i])`` of texts."""
    if not left:
        return []
    model = sentence_embedder(model_path)
    vectors = model.encode(left + right, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    a, b = vectors[: len(left)], vectors[len(left) :]
    return [float(x) for x in (a * b).sum(axis=1)]


class EmbeddingOptions(MetricOptions, FieldOption):
    """Options of ``embedding_similarity``."""

    threshold: float | None = Field(default=None, ge=-1, le=1)
    """None: the cosine similarity itself (continuous); a number: 1 when similarity ≥ it (binary)."""
    model_path: str | None = None
    """A sentence-transformers model directory; None: the bundled all-MiniLM-L6-v2."""


def _embedding_similarity(
    inputs: list[ScoringInput], options: EmbeddingOptions, _: ScoringContext
) -> list[dict[str, MetricValue]]:
    pairs = [
        (field_text(i.prediction, options.field) or "", field_text(i.reference, options.field))
        for i in inputs
    ]
    scorable = [index for index, (_, reference) in enumerate(pairs) if reference is not None]
    sims = cosine_similarities(
        [pairs[i][0] for i in scorable], [str(pairs[i][1]) for i in scorable], options.model_path
    )
    by_index = dict(zip(scorable, sims, strict=True))
    results = []
    for index in range(len(inputs)):
        if index not in by_index:
            value = MetricValue.failed(
                "no reference (or no such field in it)", binary=options.threshold is not None
            )
        elif options.threshold is None:
            value = MetricValue(by_index[index])
        else:
            value = MetricValue.passed(by_index[index] >= options.threshold, similarity=by_index[index])
        results.append({"embedding_similarity": value})
    return results


class ConsistencyOptions(MetricOptions, Normalisation, FieldOption):
    """Options of ``consistency``."""

    samples: int = Field(default=5, ge=2)
    """Answers sampled per item."""
    temperature: float = Field(default=0.7, gt=0)
    """Sampling temperature of those answers."""
    agreement: Literal["exact", "semantic"] = "exact"
    """``exact``: two answers agree when equal after normalisation; ``semantic``: when their embedding
    cosine similarity is at least ``threshold``."""
    threshold: float = Field(default=0.9, ge=-1, le=1)
    """Similarity counted as agreement (semantic only)."""


def _consistency(
    inputs: list[ScoringInput], options: ConsistencyOptions, _context: ScoringContext
) -> list[dict[str, MetricValue]]:
    pair_index: list[tuple[int, str, str]] = []
    results: list[dict[str, MetricValue]] = [{} for _ in inputs]
    for index, inp in enumerate(inputs):
        answers = [field_text(s, options.field) or "" for s in inp.samples]
        if len(answers) < 2:
            results[index] = {"consistency": MetricValue.failed("needs at least 2 sampled answers")}
            continue
        for a, b in itertools.combinations(answers, 2):
            pair_index.append((index, a, b))
    if options.agreement == "semantic":
        sims = cosine_similarities([a for _, a, _ in pair_index], [b for _, _, b in pair_index])
        agree = [s >= options.threshold for s in sims]
    else:
        agree = [normalise(a, options) == normalise(b, options) for _, a, b in pair_index]
    totals: dict[int, list[bool]] = {}
    for (index, _, _), ok in zip(pair_index, agree, strict=True):
        totals.setdefault(index, []).append(ok)
    for index, oks in totals.items():
        results[index] = {
            "consistency": MetricValue(sum(oks) / len(oks), details={"pairs": len(oks), "agreeing": sum(oks)})
        }
    return results


class RefusalOptions(MetricOptions):
    """Options of ``refusal_rate``."""


def _refusal(
    inputs: list[ScoringInput], _: RefusalOptions, __: ScoringContext
) -> list[dict[str, MetricValue]]:
    from tuneloop.evaluate.refusal import detect_refusals

    # One embedding batch for all answers (the classifier half of the detector).
    verdicts = detect_refusals([inp.prediction for inp in inputs])
    return [
        {
            "refusal_rate": MetricValue.passed(
                v.refused, confidence=v.score, matched=v.matched, partial=v.partial
            )
        }
        for v in verdicts
    ]


class LengthOptions(MetricOptions):
    """Options of ``length``."""

    unit: Literal["tokens", "words", "chars"] = "tokens"
    """Tokens of the model's tokenizer (falls back to words for outputs scored without generating)."""


def _length(inp: ScoringInput, options: LengthOptions, _: ScoringContext) -> MetricValue:
    if options.unit == "tokens" and inp.generation is not None:
        return MetricValue(float(inp.generation.completion_tokens), details={"unit": "tokens"})
    if options.unit == "chars":
        return MetricValue(float(len(inp.prediction)), details={"unit": "chars"})
    return MetricValue(float(len(inp.prediction.split())), details={"unit": "words"})


class LatencyOptions(MetricOptions):
    """Options of ``latency``."""


def _latency(inp: ScoringInput, _: LatencyOptions, __: ScoringContext) -> MetricValue:
    if inp.generation is None:
        return MetricValue.failed("no latency recorded for this answer")
    return MetricValue(float(inp.generation.latency_s), details={"unit": "seconds"})


register_metric(
    MetricDefinition(
        name="embedding_similarity",
        score=_embedding_similarity,
        options=EmbeddingOptions,
        description="cosine similarity of answer and reference embeddings (bundled all-MiniLM-L6-v2)",
        needs_reference=True,
    )
)
register_metric(
    MetricDefinition(
        name="consistency",
        score=_consistency,
        options=ConsistencyOptions,
        description="agreement rate of k answers sampled at temperature > 0 (pairs that agree)",
        group="consistency",
        sampling=lambda o: SamplingRequest(num_samples=o.samples, temperature=o.temperature),
    )
)
register_metric(
    MetricDefinition(
        name="refusal_rate",
        score=_refusal,
        options=RefusalOptions,
        description="the answer is a refusal (the red-team stage's detector); lower is better by default",
        group="safety",
        higher_is_better=False,
    )
)
register_metric(
    MetricDefinition(
        name="length",
        score=per_item(_length, "length"),
        options=LengthOptions,
        description="answer length in tokens, words or characters (no good direction)",
        group="efficiency",
        higher_is_better=None,
    )
)
register_metric(
    MetricDefinition(
        name="latency",
        score=per_item(_latency, "latency"),
        options=LatencyOptions,
        description="seconds until the answer was complete (the batch's wall time when batched)",
        group="efficiency",
        higher_is_better=False,
    )
)
