"""Train/holdout contamination: holdout items whose prompt or whole example also appears in training.

Four signals, each enough on its own: the same normalised prompt (exact), the same normalised example
(exact), a MinHash near duplicate of a training prompt or example (confirmed by exact Jaccard), and
word n-gram overlap (the share of a holdout prompt's n-grams found in training prompts).
A contaminated holdout measures memory, not generalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuneloop.config.data import ContaminationSettings, DedupSettings
from tuneloop.data.index import TextIndex, build_index
from tuneloop.data.minhash import shingle_sets, similar_pairs
from tuneloop.data.records import Record
from tuneloop.data.text import full_text, prompt_text, words


@dataclass
class Contaminated:
    """A holdout item and why it counts as seen in training."""

    holdout_index: int
    train_index: int | None
    reason: str


def _cross(index: TextIndex, boundary: int, sigs: np.ndarray, shingles_of) -> dict[int, tuple[int, float]]:
    """Holdout position -> (train position, Jaccard) for near duplicates crossing ``boundary``."""
    found: dict[int, tuple[int, float]] = {}
    for i, j, similarity in similar_pairs(shingles_of, sigs, index.settings.threshold):
        if i < boundary <= j and (j - boundary not in found or found[j - boundary][1] < similarity):
            found[j - boundary] = (i, similarity)
    return found


def cross_split_matches(
    train: list[Record], holdout: list[Record], dedup: DedupSettings, index: TextIndex | None = None
) -> dict[int, Contaminated]:
    """Exact and near duplicates crossing the split, on the prompt alone and on the whole example.
    ``index`` (optional) must cover ``train + holdout`` in that order."""
    index = index or build_index(train + holdout, dedup)
    boundary = len(train)
    everything = np.arange(boundary + len(holdout))
    found: dict[int, Contaminated] = {}
    prompts = {index.prompt_keys[t]: t for t in range(boundary) if index.prompt_keys[t] is not None}
    contents = {index.content_keys[t]: t for t in range(boundary)}
    for h in range(len(holdout)):
        content, prompt = index.content_keys[boundary + h], index.prompt_keys[boundary + h]
        if content in contents:
            found[h] = Contaminated(h, contents[content], "exact duplicate of a training example")
        elif prompt is not None and prompt in prompts:
            found[h] = Contaminated(h, prompts[prompt], "same prompt as a training example")
    near_prompts = _cross(index, boundary, index.prompt_sigs[everything], index.prompts.of)
    near_examples = _cross(index, boundary, index.full_sigs(everything), index.full_shingles)
    for near, what in ((near_prompts, "prompt"), (near_examples, "example")):
        for h, (t, similarity) in near.items():
            if h not in found:
                found[h] = Contaminated(
                    h, t, f"near-duplicate {what} of a training example (Jaccard {similarity:.2f})"
                )
    return found


def _input_text(record: Record) -> str:
    """What a model is asked: the prompt, or the whole text for raw documents."""
    return prompt_text(record) or full_text(record)


def ngram_overlap(train: list[Record], holdout: list[Record], n: int) -> list[float]:
    """For each holdout item, the share of its input's word n-grams that occur in training inputs."""
    train_sets = shingle_sets([words(_input_text(r)) for r in train], n)
    known = np.unique(train_sets.hashes)
    holdout_sets = shingle_sets([words(_input_text(r)) for r in holdout], n)
    shares = []
    for index in range(len(holdout_sets)):
        grams = holdout_sets.of(index)
        shares.append(float(np.isin(grams, known).mean()) if len(grams) else 0.0)
    return shares


def holdout_contamination(
    train: list[Record],
    holdout: list[Record],
    settings: ContaminationSettings,
    dedup: DedupSettings,
    index: TextIndex | None = None,
) -> tuple[list[Contaminated], list[float]]:
    """Contaminated holdout items (sorted) and every holdout item's n-gram overlap."""
    found = cross_split_matches(train, holdout, dedup, index)
    overlaps = ngram_overlap(train, holdout, settings.ngram)
    for h, share in enumerate(overlaps):
        if h not in found and share > settings.max_ngram_overlap:
            found[h] = Contaminated(
                h, None, f"{share:.0%} of its prompt's {settings.ngram}-grams occur in training prompts"
            )
    return [found[h] for h in sorted(found)], overlaps
