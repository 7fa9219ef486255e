"""Text metrics: exact match, contains, regex, constraints (length, case, prefix), ROUGE-L, chrF, numbers.

ROUGE-L comes from Google's ``rouge-score`` package and chrF from ``sacrebleu`` (the implementations
papers report), not from our own code.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, field_validator

from tuneloop.evaluate.metrics.base import (
    Group,
    ItemScorer,
    MetricDefinition,
    MetricOptions,
    MetricValue,
    ScoringContext,
    ScoringInput,
    per_item,
    register_metric,
)
from tuneloop.evaluate.metrics.textutil import FieldOption, Normalisation, field_text, normalise

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?")


class ExactMatchOptions(MetricOptions, Normalisation, FieldOption):
    """Options of ``exact_match``."""


def _exact_match(inp: ScoringInput, options: ExactMatchOptions, _: ScoringContext) -> MetricValue:
    prediction, reference = (
        field_text(inp.prediction, options.field),
        field_text(inp.reference, options.field),
    )
    if reference is None:
        return MetricValue.failed("no reference (or no such field in it)", binary=True)
    if prediction is None:
        return MetricValue.passed(False, reason=f"answer has no field '{options.field}'")
    return MetricValue.passed(normalise(prediction, options) == normalise(reference, options))


class ContainsOptions(MetricOptions, Normalisation, FieldOption):
    """Options of ``contains`` and ``not_contains``."""

    text: list[str] | None = None
    """Strings to look for; None: the reference itself."""
    all: bool = False
    """Require every string (default: any one)."""

    @field_validator("text", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def _found(inp: ScoringInput, options: ContainsOptions) -> tuple[bool | None, list[str]]:
    needles = options.text if options.text is not None else [inp.reference] if inp.reference else []
    if not needles:
        return None, []
    haystack = normalise(field_text(inp.prediction, options.field) or "", options)
    hits = [needle for needle in needles if normalise(needle, options) in haystack]
    return (len(hits) == len(needles)) if options.all else bool(hits), hits


def _contains(inp: ScoringInput, options: ContainsOptions, _: ScoringContext) -> MetricValue:
    ok, hits = _found(inp, options)
    if ok is None:
        return MetricValue.failed("nothing to look for: give `text` or a reference", binary=True)
    return MetricValue.passed(ok, found=hits)


def _not_contains(inp: ScoringInput, options: ContainsOptions, _: ScoringContext) -> MetricValue:
    ok, hits = _found(inp, options.model_copy(update={"all": False}))
    if ok is None:
        return MetricValue.failed("nothing to look for: give `text` or a reference", binary=True)
    return MetricValue.passed(not ok, found=hits)


class RegexOptions(MetricOptions, FieldOption):
    """Options of ``regex``."""

    pattern: str
    """Python regular expression."""
    mode: Literal["search", "fullmatch"] = "search"
    """``search``: anywhere in the answer; ``fullmatch``: the whole (stripped) answer."""
    ignore_case: bool = False
    """Case-insensitive matching."""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value


def _regex(inp: ScoringInput, options: RegexOptions, _: ScoringContext) -> MetricValue:
    text = (field_text(inp.prediction, options.field) or "").strip()
    flags = re.IGNORECASE if options.ignore_case else 0
    match = (
        re.fullmatch(options.pattern, text, flags)
        if options.mode == "fullmatch"
        else re.search(options.pattern, text, flags)
    )
    return MetricValue.passed(match is not None, matched=match.group(0) if match else None)


class AffixOptions(MetricOptions, Normalisation):
    """Options of ``starts_with`` and ``ends_with``."""

    text: str
    """The required prefix or suffix (normalised like the answer)."""


def _starts_with(inp: ScoringInput, options: AffixOptions, _: ScoringContext) -> MetricValue:
    return MetricValue.passed(normalise(inp.prediction, options).startswith(normalise(options.text, options)))


def _ends_with(inp: ScoringInput, options: AffixOptions, _: ScoringContext) -> MetricValue:
    return MetricValue.passed(normalise(inp.prediction, options).endswith(normalise(options.text, options)))


class CountOptions(MetricOptions):
    """Options of ``word_count`` and ``line_count``."""

    min: int | None = Field(default=None, ge=0)
    """Fewest allowed."""
    max: int | None = Field(default=None, ge=0)
    """Most allowed."""


def _within(count: int, options: CountOptions) -> MetricValue:
    ok = (options.min is None or count >= options.min) and (options.max is None or count <= options.max)
    return MetricValue.passed(ok, count=count)


def _word_count(inp: ScoringInput, options: CountOptions, _: ScoringContext) -> MetricValue:
    return _within(len(inp.prediction.split()), options)


def _line_count(inp: ScoringInput, options: CountOptions, _: ScoringContext) -> MetricValue:
    return _within(len([line for line in inp.prediction.splitlines() if line.strip()]), options)


class CaseOptions(MetricOptions):
    """Options of ``letter_case``."""

    case: Literal["upper", "lower"]
    """Every letter of the answer must be upper (or lower) case."""


def _letter_case(inp: ScoringInput, options: CaseOptions, _: ScoringContext) -> MetricValue:
    letters = [c for c in inp.prediction if c.isalpha()]
    if not letters:
        return MetricValue.passed(False, reason="no letters")
    wanted = str.isupper if options.case == "upper" else str.islower
    return MetricValue.passed(all(wanted(c) for c in letters))


class NumberOptions(MetricOptions):
    """Options of ``numeric_match``."""

    tolerance: float = Field(default=1e-6, ge=0)
    """Largest absolute difference counted as equal."""
    position: Literal["first", "last"] = "last"
    """Which number of the answer is its answer (worked solutions end with the result)."""


def _numbers(text: str) -> list[float]:
    values = []
    for token in _NUMBER.findall(text):
        try:
            values.append(float(token.replace(",", "")))
        except ValueError:
            continue
    return values


def _numeric_match(inp: ScoringInput, options: NumberOptions, _: ScoringContext) -> MetricValue:
    expected = _numbers(inp.reference or "")
    if not expected:
        return MetricValue.failed("the reference holds no number", binary=True)
    found = _numbers(inp.prediction)
    if not found:
        return MetricValue.passed(False, expected=expected[-1], found=None)
    value = found[0] if options.position == "first" else found[-1]
    return MetricValue.passed(
        abs(value - expected[-1]) <= options.tolerance, expected=expected[-1], found=value
    )


class RougeOptions(MetricOptions, FieldOption):
    """Options of ``rouge_l``."""

    use_stemmer: bool = True
    """Porter-stem words before matching (as the ROUGE paper's scripts do)."""


@lru_cache(maxsize=2)
def _rouge_scorer(use_stemmer: bool) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)


def _rouge_l(inp: ScoringInput, options: RougeOptions, _: ScoringContext) -> MetricValue:
    reference = field_text(inp.reference, options.field)
    if reference is None:
        return MetricValue.failed("no reference (or no such field in it)")
    prediction = field_text(inp.prediction, options.field) or ""
    score = _rouge_scorer(options.use_stemmer).score(reference, prediction)["rougeL"]
    return MetricValue(float(score.fmeasure), details={"precision": score.precision, "recall": score.recall})


class ChrfOptions(MetricOptions, FieldOption):
    """Options of ``chrf``."""

    char_order: int = Field(default=6, ge=1)
    """Longest character n-gram."""
    word_order: int = Field(default=0, ge=0)
    """Word n-grams too (2 gives chrF++)."""
    beta: int = Field(default=2, ge=1)
    """Recall weight."""


@lru_cache(maxsize=4)
def _chrf(char_order: int, word_order: int, beta: int) -> Any:
    from sacrebleu.metrics import CHRF

    return CHRF(char_order=char_order, word_order=word_order, beta=beta)


def _chrf_score(inp: ScoringInput, options: ChrfOptions, _: ScoringContext) -> MetricValue:
    reference = field_text(inp.reference, options.field)
    if reference is None:
        return MetricValue.failed("no reference (or no such field in it)")
    prediction = field_text(inp.prediction, options.field) or ""
    scorer = _chrf(options.char_order, options.word_order, options.beta)
    return MetricValue(scorer.sentence_score(prediction, [reference]).score / 100.0)


def _register() -> None:
    simple: list[tuple[str, ItemScorer, type[MetricOptions], str, Group, bool]] = [
        (
            "exact_match",
            _exact_match,
            ExactMatchOptions,
            "answer equals the reference after normalisation",
            "task",
            True,
        ),
        (
            "contains",
            _contains,
            ContainsOptions,
            "answer contains the reference (or given strings)",
            "task",
            False,
        ),
        (
            "not_contains",
            _not_contains,
            ContainsOptions,
            "answer contains none of the given strings",
            "task",
            False,
        ),
        ("regex", _regex, RegexOptions, "answer matches a regular expression", "format", False),
        ("starts_with", _starts_with, AffixOptions, "answer starts with a given text", "format", False),
        ("ends_with", _ends_with, AffixOptions, "answer ends with a given text", "format", False),
        ("word_count", _word_count, CountOptions, "number of words within [min, max]", "format", False),
        (
            "line_count",
            _line_count,
            CountOptions,
            "number of non-empty lines within [min, max]",
            "format",
            False,
        ),
        ("letter_case", _letter_case, CaseOptions, "every letter upper (or lower) case", "format", False),
        (
            "numeric_match",
            _numeric_match,
            NumberOptions,
            "the answer's number equals the reference's",
            "task",
            True,
        ),
        (
            "rouge_l",
            _rouge_l,
            RougeOptions,
            "ROUGE-L F-measure against the reference (rouge-score)",
            "quality",
            True,
        ),
        (
            "chrf",
            _chrf_score,
            ChrfOptions,
            "chrF character n-gram F-score against the reference (sacrebleu), 0-1",
            "quality",
            True,
        ),
    ]
    for name, function, options, description, group, needs_reference in simple:
        register_metric(
            MetricDefinition(
                name=name,
                score=per_item(function, name),
                options=options,
                description=description,
                group=group,
                needs_reference=needs_reference,
            )
        )


_register()
