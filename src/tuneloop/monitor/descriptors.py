"""Text descriptors of a window, each compared with the reference by its own test.

Embedding tests (:mod:`.two_sample`) say *whether* production moved; descriptors say *how*, in terms a
person recognises: longer inputs, a new language, words training never saw, another category mix;
and for the model's answers, more refusals, longer answers, broken output format.

Every comparison returns a :class:`DescriptorResult` naming its test, both sides' values and a
p-value. Several descriptors are tested at once, so a window's verdict applies a Bonferroni
correction (:func:`drifting_descriptors`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tuneloop.data.text import words

MIN_SAMPLE = 5
STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "the",
            "and",
            "to",
            "of",
            "a",
            "is",
            "in",
            "you",
            "that",
            "it",
            "for",
            "i",
            "with",
            "on",
            "this",
            "be",
            "are",
            "not",
            "have",
            "can",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "und",
            "das",
            "ist",
            "nicht",
            "ich",
            "sie",
            "zu",
            "den",
            "mit",
            "ein",
            "es",
            "von",
            "sich",
            "auf",
            "dem",
            "eine",
            "auch",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "et",
            "de",
            "des",
            "est",
            "un",
            "une",
            "je",
            "que",
            "pas",
            "pour",
            "vous",
            "dans",
            "il",
            "ne",
            "sur",
            "au",
            "avec",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "y",
            "de",
            "que",
            "es",
            "en",
            "un",
            "una",
            "por",
            "con",
            "no",
            "para",
            "se",
            "lo",
            "del",
            "al",
            "mi",
        ]
    ),
    "it": frozenset(
        [
            "il",
            "la",
            "di",
            "che",
            "e",
            "non",
            "un",
            "una",
            "per",
            "sono",
            "mi",
            "ho",
            "lo",
            "gli",
            "con",
            "del",
            "della",
            "ma",
            "le",
            "se",
        ]
    ),
    "pt": frozenset(
        [
            "o",
            "a",
            "os",
            "as",
            "e",
            "de",
            "que",
            "não",
            "um",
            "uma",
            "para",
            "com",
            "do",
            "da",
            "em",
            "é",
            "no",
            "na",
            "se",
            "eu",
        ]
    ),
    "nl": frozenset(
        [
            "de",
            "het",
            "een",
            "en",
            "van",
            "ik",
            "te",
            "dat",
            "die",
            "in",
            "is",
            "niet",
            "je",
            "op",
            "zijn",
            "met",
            "voor",
            "er",
        ]
    ),
}
"""The twenty commonest words of seven languages written in Latin script: enough to tell them apart
in a sentence or two, offline, without a language-identification model."""


@dataclass(frozen=True)
class DescriptorResult:
    """One descriptor compared between reference and production."""

    name: str
    """``input_length``, ``out_of_vocabulary``, ``language``, ``category``, ``refusal_rate`` ..."""
    test: str
    """``ks`` (Kolmogorov–Smirnov), ``mann_whitney``, ``chi_square`` or ``two_proportion``."""
    reference: float | dict[str, float]
    """The reference's value: a mean, a rate, or shares by value."""
    production: float | dict[str, float]
    statistic: float
    p_value: float
    n_reference: int
    n_production: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def drifting_descriptors(results: Sequence[DescriptorResult], alpha: float) -> list[DescriptorResult]:
    """The descriptors that moved, at family-wise level ``alpha`` (Bonferroni over all of them)."""
    tested = [r for r in results if np.isfinite(r.p_value)]
    return [r for r in tested if r.p_value < alpha / max(len(tested), 1)]


def _enough(reference: Sequence[Any], production: Sequence[Any]) -> bool:
    return len(reference) >= MIN_SAMPLE and len(production) >= MIN_SAMPLE


def compare_distributions(
    name: str, reference: Sequence[float], production: Sequence[float]
) -> DescriptorResult:
    """A numeric descriptor (lengths, shares) compared with the two-sample Kolmogorov–Smirnov test."""
    from scipy.stats import ks_2samp

    statistic, p_value = (np.nan, np.nan)
    if _enough(reference, production):
        outcome = ks_2samp(reference, production)
        statistic, p_value = float(outcome.statistic), float(outcome.pvalue)
    return DescriptorResult(
        name, "ks", _mean(reference), _mean(production), statistic, p_value, len(reference), len(production)
    )


def compare_rates(name: str, reference: Sequence[bool], production: Sequence[bool]) -> DescriptorResult:
    """A yes/no descriptor (refused, valid JSON) compared by Fisher's exact test on the 2x2 table."""
    from scipy.stats import fisher_exact

    statistic, p_value = (np.nan, np.nan)
    if _enough(reference, production):
        table = [
            [sum(reference), len(reference) - sum(reference)],
            [sum(production), len(production) - sum(production)],
        ]
        outcome = fisher_exact(table)
        statistic, p_value = float(outcome.statistic), float(outcome.pvalue)
    return DescriptorResult(
        name, "fisher_exact", _mean(reference), _mean(production), statistic, p_value,
        len(reference), len(production),
    )  # fmt: skip


def compare_categories(name: str, reference: Sequence[str], production: Sequence[str]) -> DescriptorResult:
    """A categorical descriptor (language, category) compared with a chi-square test of homogeneity."""
    from scipy.stats import chi2_contingency

    counts_reference, counts_production = Counter(reference), Counter(production)
    values = sorted(set(counts_reference) | set(counts_production))
    statistic, p_value = (np.nan, np.nan)
    if _enough(reference, production) and len(values) > 1:
        table = [[counts_reference[v] for v in values], [counts_production[v] for v in values]]
        outcome = chi2_contingency(table)
        statistic, p_value = float(outcome.statistic), float(outcome.pvalue)
    return DescriptorResult(
        name, "chi_square", _shares(counts_reference), _shares(counts_production), statistic, p_value,
        len(reference), len(production),
    )  # fmt: skip


def _mean(values: Sequence[float | bool]) -> float:
    return float(np.mean(np.asarray(values, dtype=float))) if len(values) else float("nan")


def _shares(counts: Counter[str]) -> dict[str, float]:
    total = sum(counts.values()) or 1
    return {value: round(count / total, 4) for value, count in counts.most_common()}


def language_of(text: str) -> str:
    """A coarse language label: the writing system, and for Latin script the closest of seven languages
    by stopword overlap (``latin`` when none matches)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "none"
    script = Counter(_script(c) for c in letters).most_common(1)[0][0]
    if script != "latin":
        return script
    tokens = set(words(text))
    overlap = {language: len(tokens & stop) for language, stop in STOPWORDS.items()}
    best = max(overlap, key=lambda language: overlap[language])
    return best if overlap[best] > 0 else "latin"


SCRIPTS = (
    (0x0000, 0x0250, "latin"),
    (0x0370, 0x0400, "greek"),
    (0x0400, 0x0530, "cyrillic"),
    (0x0590, 0x0600, "hebrew"),
    (0x0600, 0x0700, "arabic"),
    (0x0900, 0x0980, "devanagari"),
    (0x3040, 0x3100, "japanese"),
    (0xAC00, 0xD7B0, "korean"),
    (0x4E00, 0xA000, "cjk"),
)
"""Unicode blocks of the writing systems told apart (start, end, name)."""


def _script(character: str) -> str:
    code = ord(character)
    return next((name for start, end, name in SCRIPTS if start <= code < end), "other")


def out_of_vocabulary_shares(texts: Sequence[str], vocabulary: set[str]) -> list[float]:
    """For each text, the share of its words that ``vocabulary`` does not hold."""
    shares = []
    for text in texts:
        tokens = words(text)
        shares.append(sum(t not in vocabulary for t in tokens) / len(tokens) if tokens else 0.0)
    return shares


def input_descriptors(
    reference: Sequence[str],
    production: Sequence[str],
    *,
    reference_categories: Sequence[str] | None = None,
    production_categories: Sequence[str] | None = None,
) -> list[DescriptorResult]:
    """Length, out-of-vocabulary share, language and (when both sides have them) category mix.

    The out-of-vocabulary share is relative to training: the vocabulary is built from one half of the
    reference, and production is compared with the other half, so the reference's own rate of unseen
    words is the baseline (a new product name is not drift; a window where a third of the words are
    new is)."""
    results = [
        compare_distributions(
            "input_length", [len(words(t)) for t in reference], [len(words(t)) for t in production]
        )
    ]
    half = len(reference) // 2
    vocabulary = {token for text in reference[:half] for token in words(text)}
    results.append(
        compare_distributions(
            "out_of_vocabulary",
            out_of_vocabulary_shares(reference[half:], vocabulary),
            out_of_vocabulary_shares(production, vocabulary),
        )
    )
    results.append(
        compare_categories(
            "language", [language_of(t) for t in reference], [language_of(t) for t in production]
        )
    )
    if reference_categories and production_categories:
        results.append(compare_categories("category", reference_categories, production_categories))
    return results


def is_json_object(text: str) -> bool:
    """True when the whole answer parses as one JSON object (the common structured-output contract)."""
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def output_descriptors(reference: Sequence[str], production: Sequence[str]) -> list[DescriptorResult]:
    """The model's answers: refusal rate, length, and JSON validity when the reference answers are JSON.

    ``reference`` are the answers the model was trained on (or an earlier window's answers)."""
    from tuneloop.evaluate.refusal import detect_refusals

    refused = [verdict.refused for verdict in detect_refusals([*reference, *production])]
    results = [
        compare_rates("refusal_rate", refused[: len(reference)], refused[len(reference) :]),
        compare_distributions(
            "output_length", [len(words(t)) for t in reference], [len(words(t)) for t in production]
        ),
    ]
    reference_json = [is_json_object(t) for t in reference]
    if reference_json and np.mean(reference_json) >= 0.5:
        results.append(
            compare_rates("format_valid_json", reference_json, [is_json_object(t) for t in production])
        )
    return results
