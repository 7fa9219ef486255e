"""Classification data: is every answer a label from a small closed set, and how are the labels spread?

Intent routing, triage and tagging datasets answer with one of a few dozen or few hundred short
labels. Lexical diversity and compression are wrong questions for them (every label set "repeats
itself"); the right ones are how evenly the labels are taught, which labels have too few examples,
which holdout labels training never shows, and whether near-identical inputs carry different labels.
The rule that decides the mode is documented on :class:`~tuneloop.config.data.LabelSettings`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tuneloop.config.data import LabelSettings
from tuneloop.data.text import normalise_text


def label_of(answer: str) -> str:
    """The label an answer names: its normalised text (case and spacing do not make a new label)."""
    return normalise_text(answer)


def is_short(label: str, settings: LabelSettings) -> bool:
    return len(label) <= settings.max_chars and len(label.split()) <= settings.max_words


def answers_are_labels(answers: list[str], settings: LabelSettings) -> bool:
    """Whether these answers (empty ones ignored) are classification labels (see LabelSettings)."""
    if settings.task != "auto":
        return settings.task == "classification"
    present = [a for a in answers if a]
    if len(present) < 2:
        return False
    # cheap exit before normalising: free text is long
    short = sum(1 for a in present if len(a) <= 4 * settings.max_chars and is_short(label_of(a), settings))
    if short < settings.min_short_share * len(present):
        return False
    distinct = len({label_of(a) for a in present})
    allowed = max(settings.max_labels, settings.max_label_share * len(present))
    return distinct <= allowed and len(present) / distinct >= settings.min_mean_examples


@dataclass
class LabelStats:
    """How the training labels are spread."""

    counts: dict[str, int]
    """Examples per label, commonest first."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def commonest(self) -> tuple[str, int]:
        return next(iter(self.counts.items()))

    @property
    def rarest(self) -> tuple[str, int]:
        return list(self.counts.items())[-1]

    @property
    def imbalance_ratio(self) -> float:
        return self.commonest[1] / self.rarest[1] if self.counts else 1.0

    def rare(self, minimum: int) -> dict[str, int]:
        """Labels with fewer than ``minimum`` examples."""
        return {label: n for label, n in self.counts.items() if n < minimum}

    def summary(self) -> dict[str, object]:
        label, most = self.commonest
        rare_label, least = self.rarest
        return {
            "labels": len(self.counts),
            "examples": self.total,
            "commonest": {"label": label, "count": most, "share": most / self.total},
            "rarest": {"label": rare_label, "count": least, "share": least / self.total},
            "imbalance_ratio": self.imbalance_ratio,
            "distribution": self.counts,
        }


def label_stats(answers: list[str]) -> LabelStats:
    """Examples per label (empty answers ignored), commonest first, ties by label."""
    counts = Counter(label_of(a) for a in answers if a)
    return LabelStats(dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))
